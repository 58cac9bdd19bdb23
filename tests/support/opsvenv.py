"""The operations tool chain (Ansible, ansible-lint) in a virtualenv of its own.

Why this exists
---------------
The playbooks in ``ansible/`` are run and linted by the test suite, but
ansible-core and its collections must not land in the service's virtualenv:
they pin other versions of libraries the service uses, and the service needs
none of them.  So they live in ``.venv-ops`` (``NGC_PILOT_OPS_VENV`` moves it),
made here from the pins in ``pyproject.toml``'s ``[ops]`` extra — the one
place those versions are written.  The ``ansible`` package bundles the
collections the role uses (``ansible/requirements.yml`` records their
versions), so nothing is fetched from Ansible Galaxy.

* :func:`ensure_ops_venv` creates or updates the virtualenv (once per set of
  pins; a stamp file holds them) and returns its ``bin`` directory.
* :func:`build_wheel` builds the project's wheel into a directory, as an
  operator would before deploying.

``python tests/support/opsvenv.py [DIR]`` does the first from the command line
(``make ops-venv``).  Only the standard library is used.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO / ".venv-ops"


def ops_pins(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """The requirements of the ``[ops]`` extra, as written in ``pyproject.toml``."""
    with open(pyproject, "rb") as handle:
        data = tomllib.load(handle)
    return list(data["project"]["optional-dependencies"]["ops"])


def venv_dir() -> Path:
    return Path(os.environ.get("NGC_PILOT_OPS_VENV") or DEFAULT_VENV)


def ensure_ops_venv(venv: Path | None = None) -> Path:
    """``bin`` of a virtualenv holding the ``[ops]`` pins (created or updated as needed)."""
    venv = venv or venv_dir()
    pins = ops_pins()
    wanted = "\n".join(pins) + "\n"
    stamp = venv / ".ops-installed"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (stamp.is_file() and stamp.read_text() == wanted):
                if not (venv / "bin" / "python").exists():
                    _run([sys.executable, "-m", "venv", str(venv)])
                _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *pins])
                stamp.write_text(wanted)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return venv / "bin"


def build_wheel(dest: Path) -> Path:
    """Build ngc-pilot's wheel (no dependencies) into ``dest``; its path."""
    dest.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), str(REPO)])
    wheels = sorted(dest.glob("ngc_pilot-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one ngc-pilot wheel in {dest}, found {wheels}")
    return wheels[0]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


if __name__ == "__main__":
    print(ensure_ops_venv(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else None))
