"""Create ``.devcloud/venv`` and install the pinned OpenStack release into it.

Re-installs only when ``devcloud/requirements.txt`` or the shims change (a hash
of both is kept in the venv), so a warm ``up`` never touches the network. The
requirements below ``EMULATOR_SECTION`` belong to the Kubernetes API emulator:
a change there reinstalls, but ``ensure_venv`` reports the OpenStack daemons'
code unchanged, so they keep running.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

from .console import Console, DevcloudError
from .layout import Layout

MARKER = ".devcloud-installed"
OPENSTACK_MARKER = ".devcloud-openstack"  # the fingerprint of the OpenStack part alone
EMULATOR_SECTION = b"# --- Kubernetes API emulator"


def openstack_requirements(layout: Layout) -> bytes:
    text = layout.requirements.read_bytes()
    at = text.find(EMULATOR_SECTION)
    return text if at < 0 else text[:at]


def emulator_requirements(layout: Layout) -> bytes:
    text = layout.requirements.read_bytes()
    at = text.find(EMULATOR_SECTION)
    return b"" if at < 0 else text[at:]


def _fingerprint(layout: Layout, openstack_only: bool = False) -> str:
    # The shims' content, not their path: they are copied into the virtualenv
    # (not installed editable), so any checkout with the same shims -- another
    # worktree sharing this ``.devcloud`` -- finds the virtualenv installed.
    h = hashlib.sha256()
    if openstack_only:
        h.update(openstack_requirements(layout))
    else:
        h.update(layout.requirements.read_bytes())
    # The package's source only: a build leaves ``build/`` and ``*.egg-info`` beside it.
    sources = [layout.shims / "pyproject.toml", *(layout.shims / "devcloud_shims").rglob("*.py")]
    for path in sorted(sources):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(layout.shims)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def installed(layout: Layout) -> bool:
    marker = layout.venv / MARKER
    return marker.exists() and marker.read_text().strip() == _fingerprint(layout)


def _run(console: Console, cmd: list[str], what: str, log_name: str, layout: Layout) -> None:
    layout.log.mkdir(parents=True, exist_ok=True)
    log_path = layout.log / log_name
    with open(log_path, "ab") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise DevcloudError(f"{what} failed (exit {done.returncode}); {log_path}:\n{tail}")


def _previous_openstack_fingerprint(layout: Layout) -> str | None:
    for name in (OPENSTACK_MARKER, MARKER):  # before the emulator, MARKER held just OpenStack's
        path = layout.venv / name
        if path.exists():
            return path.read_text().strip()
    return None


def ensure_venv(layout: Layout, console: Console) -> bool:
    """Make the virtualenv match the pins; True if OpenStack's code was (re)installed."""
    if installed(layout):
        return False
    previous = _previous_openstack_fingerprint(layout)
    python = shutil.which("python3") or sys.executable
    if not (layout.bin / "python").exists():
        console.say(f"creating the virtualenv {layout.venv}")
        done = subprocess.run(
            [python, "-m", "venv", str(layout.venv)], capture_output=True, text=True
        )
        if done.returncode != 0:
            hint = (
                " (on Debian: apt-get install python3-venv)" if "ensurepip" in done.stderr else ""
            )
            shutil.rmtree(layout.venv, ignore_errors=True)
            raise DevcloudError(f"python3 -m venv failed{hint}:\n{done.stderr[-1500:]}")
    pip = [str(layout.bin / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    console.say(
        "installing the pinned OpenStack release (about 2 minutes the first time; log: install.log)"
    )
    _run(console, [*pip, "install", "--upgrade", "pip>=24"], "upgrading pip", "install.log", layout)
    _run(
        console,
        [*pip, "install", "-r", str(layout.requirements)],
        "pip install -r requirements.txt",
        "install.log",
        layout,
    )
    _run(
        console,
        [*pip, "install", "--no-deps", "--force-reinstall", str(layout.shims)],
        "installing devcloud shims",
        "install.log",
        layout,
    )
    openstack = _fingerprint(layout, openstack_only=True)
    (layout.venv / OPENSTACK_MARKER).write_text(openstack + "\n")
    (layout.venv / MARKER).write_text(_fingerprint(layout) + "\n")
    console.say("virtualenv ready")
    return previous != openstack
