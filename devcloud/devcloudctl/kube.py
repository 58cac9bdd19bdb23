"""The Kubernetes API emulator as one more devcloud process: start, check, kubeconfig.

The emulator (``devcloud/kube_emulator``) runs from the devcloud virtualenv as
``python -m kube_emulator``; it needs nothing of OpenStack, so ``up`` brings it
up even when OpenStack is already up (without re-checking OpenStack), and
restarts it only when its code or its pins changed. It writes
``.devcloud/kubeconfig``: cluster ``devcloud``, user ``admin`` with a bearer
token (also in ``state.json``), plain HTTP on 127.0.0.1.

The emulator saves its objects in ``.devcloud/data/kube-emulator.json``, so a
restart (new code) keeps every namespace and issued token; ``reset`` removes
the file with the rest of ``.devcloud/``. This module does not look inside it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import time

from . import install
from .api import http_status
from .console import Console, DevcloudError
from .layout import Layout
from .processes import Processes
from .state import State, port_free

NAME = "kube-emulator"  # PID file and log name
TITLE = "Kubernetes API emulator"
PORT_KEY = "kubernetes"
SECRET_KEY = "kubernetes_admin"
START_TIMEOUT = 60.0


def source(layout: Layout):
    return layout.source / "kube_emulator"


def kubeconfig_path(layout: Layout):
    return layout.home / "kubeconfig"


def token_file(layout: Layout):
    return layout.etc / "kube-emulator" / "admin-token"


def state_file(layout: Layout):
    return layout.data / "kube-emulator.json"


def fingerprint(layout: Layout) -> str:
    """Changes when the emulator's code or pins change: then a running one is restarted."""
    h = hashlib.sha256(install.emulator_requirements(layout))
    for path in sorted(source(layout).glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def url(state: State) -> str:
    return f"http://127.0.0.1:{state.ports[PORT_KEY]}"


def answers(state: State) -> bool:
    return PORT_KEY in state.ports and http_status(url(state) + "/healthz") == 200


def _free_port(preferred: int) -> int:
    if port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_settings(state: State) -> None:
    """A port and an admin token, chosen once and kept (checkouts from before the emulator too)."""
    changed = False
    if PORT_KEY not in state.ports:
        # beside the OpenStack block when free (fresh checkouts reserve it), else any free port
        state.ports[PORT_KEY] = _free_port(state.ports["keystone"] + 9)
        changed = True
    if SECRET_KEY not in state.data["secrets"]:
        state.data["secrets"][SECRET_KEY] = secrets.token_urlsafe(32)
        changed = True
    if changed:
        state.save()


def up_quick(layout: Layout, state: State, procs: Processes) -> bool:
    return (
        procs.running(NAME) is not None
        and state.data.get("kube_emulator_fingerprint") == fingerprint(layout)
        and kubeconfig_path(layout).exists()
        and answers(state)
    )


def ensure(layout: Layout, state: State, procs: Processes, console: Console, env: dict) -> None:
    """Bring the emulator up (a no-op when it runs current code) and write the kubeconfig."""
    ensure_settings(state)
    current = fingerprint(layout)
    if procs.running(NAME) and state.data.get("kube_emulator_fingerprint") != current:
        console.say(f"restarting the {TITLE}: its code or pins changed")
        procs.stop(NAME)
    if not procs.running(NAME):
        tokens = token_file(layout)
        tokens.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        layout.data.mkdir(parents=True, exist_ok=True)
        _write_private(tokens, state.secret(SECRET_KEY) + "\n")
        handle = procs.start(
            NAME,
            [
                str(layout.bin / "python"),
                "-m",
                "kube_emulator",
                "--port",
                str(state.ports[PORT_KEY]),
                "--admin-token-file",
                str(tokens),
                "--state-file",
                str(state_file(layout)),
            ],
            {**env, "PYTHONPATH": str(layout.source)},
            cwd=layout.home,
        )
        console.say(f"started the {TITLE} (pid {handle.pid})")
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(state):
            if not procs.running(NAME):
                raise DevcloudError(
                    f"the {TITLE} exited; {procs.log_file(NAME)}:\n{procs.tail(NAME)}"
                )
            if time.monotonic() > deadline:
                raise DevcloudError(f"the {TITLE} did not answer within {START_TIMEOUT:.0f}s")
            time.sleep(0.2)
        console.say(f"the {TITLE} answers on {url(state)}")
    state.data["kube_emulator_fingerprint"] = current
    state.save()
    write_kubeconfig(layout, state)


def kubeconfig(state: State) -> str:
    token = json.dumps(state.secret(SECRET_KEY))
    return (
        f"# written by devcloud/devcloud: the admin of this checkout's {TITLE}\n"
        "# (an emulator for tests and the demo, not a Kubernetes cluster; devcloud/README.md)\n"
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: devcloud\n"
        "  cluster:\n"
        f"    server: {url(state)}\n"
        "users:\n"
        "- name: admin\n"
        "  user:\n"
        f"    token: {token}\n"
        "contexts:\n"
        "- name: devcloud\n"
        "  context:\n"
        "    cluster: devcloud\n"
        "    user: admin\n"
        "    namespace: default\n"
        "current-context: devcloud\n"
    )


def write_kubeconfig(layout: Layout, state: State) -> None:
    _write_private(kubeconfig_path(layout), kubeconfig(state))


def status_row(state: State, procs: Processes) -> tuple[bool, tuple[str, str, str, str]]:
    handle = procs.running(NAME)
    good = handle is not None and answers(state)
    check = "answers" if good else ("DOWN" if handle else "not running")
    where = url(state) if PORT_KEY in state.ports else "(no port yet: run devcloud/devcloud up)"
    return good, (TITLE, str(handle.pid) if handle else "-", check, where)


def _write_private(path, text: str) -> None:
    import os

    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
