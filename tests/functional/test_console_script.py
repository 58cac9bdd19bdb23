"""The installed console script, run as a separate process like an operator would."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import DEMO_DATA

EXE = shutil.which("ngc-pilot", path=str(Path(sys.executable).parent)) or "ngc-pilot"


def ngc(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NGC_PILOT_")}
    return subprocess.run(
        [EXE, "--db", db, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["intake"],
        ["select"],
        ["db"],
        ["policy"],
        ["audit"],
        ["demo"],
        ["select", "why-not"],
        ["intake", "import"],
    ],
)
def test_every_command_has_help(args, tmp_path):
    result = ngc(*args, "--help", db=f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path)
    assert result.returncode == 0 and "Usage:" in result.stdout


def _command_paths(command, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _command_paths(sub, (*prefix, name))


def test_every_command_in_the_tree_has_help(tmp_path, capsys):
    """Walks the whole command tree, so a new command cannot miss its --help."""
    import typer

    from ngc_pilot.cli.main import app, run

    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("meter",) in paths and ("invoice",) in paths and ("serve",) in paths
    for path in paths:
        code = run(["--db", f"sqlite:///{tmp_path / 'h.db'}", *path, "--help"])
        out = capsys.readouterr().out
        assert code == 0 and "Usage:" in out, (path, out)


def test_a_bad_option_value_is_one_line_and_exit_2(tmp_path):
    result = ngc("provision", "--parallel", "0", db=f"sqlite:///{tmp_path / 'b.db'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "--parallel" in result.stderr and "Traceback" not in result.stderr


def test_json_output_is_pure_json_no_solver_banner(database, tmp_path):
    assert (
        ngc(
            "intake", "import", str(DEMO_DATA / "nominations.yaml"), db=database.url, cwd=tmp_path
        ).returncode
        == 0
    )
    result = ngc("select", "--json", db=database.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # would fail on HiGHS's banner
    assert data["optimal"] is True and "HiGHS" not in result.stdout


def test_demo_runs_end_to_end(tmp_path):
    result = ngc("demo", db=f"sqlite:///{tmp_path / 'demo.db'}", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "certified optimal" in result.stdout
    assert "nothing was changed" in result.stdout + result.stderr
    assert "Committed as decision 1" in result.stdout
