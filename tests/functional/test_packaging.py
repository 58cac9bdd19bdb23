"""The dependency check as `make test` runs it: on a project directory, exit code and message."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_dependencies.py"


def _project(root: Path, dependencies: list[str]) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    # PyYAML is installed here (ngc-pilot depends on it), so only
    # the declaration decides.
    (root / "pkg" / "load.py").write_text("def load(text):\n    import yaml\n\n    return yaml\n")
    quoted = ", ".join(f'"{d}"' for d in dependencies)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "pkg"\nversion = "0"\ndependencies = [{quoted}]\n'
        '[tool.setuptools.packages.find]\ninclude = ["pkg*"]\n'
    )
    return root


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True
    )


def test_check_fails_on_a_package_importing_an_undeclared_module(tmp_path: Path):
    done = _check(_project(tmp_path, ["click>=8"]))
    assert done.returncode == 1
    assert "pkg/load.py:2: imports 'yaml'" in done.stderr and "PyYAML" in done.stderr


def test_check_passes_once_the_module_is_declared(tmp_path: Path):
    done = _check(_project(tmp_path, ["click>=8", "PyYAML>=6"]))
    assert done.returncode == 0, done.stderr


def test_every_import_of_the_shipped_packages_is_declared():
    done = _check(REPO)
    assert done.returncode == 0, done.stderr
