"""Build the wheel, install it without extras into a clean virtualenv, and run the CLI from it.

Why it exists: the project's own virtualenv always installs ``.[dev]`` and
the package in editable mode, so a dependency that only the dev extra brings,
or a file missing from the wheel's package data, goes unnoticed there — a
user's ``pip install ngc-pilot`` then gets a CLI that dies at start.  This
builds the wheel from a copy of the source tree (the files git tracks plus
new, not ignored ones, so a stale ``build/`` cannot leak deleted modules into
it), installs it with pip (its cache makes this take a minute or two, not
ten), and runs ``ngc-pilot --help`` and ``ngc-pilot intake schema`` from the
new environment, outside the source tree and without ``PYTHONPATH``, so only
the installed wheel can answer.

What it deliberately does not do: talk to a database or a cloud (those
commands need neither), or keep the environment (it lives in a temporary
directory, removed at the end; ``--keep`` keeps it for a look).

    python scripts/check_wheel.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".git", ".venv", "var", "build", "dist", ".devcloud", "__pycache__"}


def _source_files(root: Path) -> list[Path]:
    """The project's files: git's view when in a work tree, otherwise all but local state."""
    try:
        git = ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others"]
        listed = subprocess.run([*git, "--exclude-standard"], capture_output=True)
    except FileNotFoundError:  # no git on this machine
        listed = None
    if listed is not None and listed.returncode == 0:
        names = [name for name in listed.stdout.decode().split("\0") if name]
        return [Path(name) for name in names]
    return [
        path.relative_to(root)
        for path in root.rglob("*")
        if not SKIP.intersection(path.relative_to(root).parts)
    ]


def _copy_tree(root: Path, target: Path) -> None:
    for relative in _source_files(root):
        source = root / relative
        if source.is_symlink() or not source.is_file():  # deleted, or devcloud's links
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / relative)


def _run(what: str, command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(
            f"check-wheel: {what} failed (exit {done.returncode}): {' '.join(command)}"
        )
    print(f"check-wheel: {what} ({seconds:.1f} s)")
    return done


def check(work: Path) -> None:
    source, dist, env_dir = work / "src", work / "dist", work / "venv"
    _copy_tree(ROOT, source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run("build the wheel", [*pip, "wheel", "--quiet", "--no-deps", "-w", str(dist), str(source)])
    (wheel,) = dist.glob("ngc_pilot-*.whl")
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(
        f"install {wheel.name} without extras into a clean virtualenv",
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
    )
    # Only the installed wheel may answer: no PYTHONPATH, no settings, outside the source tree.
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("NGC_PILOT_", "OS_"))
    }
    clean["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    cli = str(env_dir / "bin" / "ngc-pilot")
    run_dir = work / "run"
    run_dir.mkdir()
    where = _run(
        "import ngc_pilot from the virtualenv",
        [str(python), "-c", "import ngc_pilot; print(ngc_pilot.__file__)"],
        cwd=run_dir,
        env=clean,
    ).stdout.strip()
    if not where.startswith(str(env_dir)):
        raise SystemExit(f"check-wheel: ngc_pilot was imported from {where}, not the virtualenv")
    helped = _run("ngc-pilot --help", [cli, "--help"], cwd=run_dir, env=clean)
    if "intake" not in helped.stdout:
        raise SystemExit("check-wheel: ngc-pilot --help does not list the intake commands")
    schema = _run("ngc-pilot intake schema", [cli, "intake", "schema"], cwd=run_dir, env=clean)
    try:
        json.loads(schema.stdout)
    except ValueError as exc:
        raise SystemExit(f"check-wheel: ngc-pilot intake schema printed no JSON: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ngc-pilot-wheel-"))
    try:
        check(work)
    finally:
        if args.keep:
            print(f"check-wheel: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("check-wheel: the wheel installed without extras runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
