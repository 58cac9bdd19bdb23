"""devcloud's memory between runs: ports, secrets, backends and finished phases.

One JSON file, ``.devcloud/state.json`` (mode 0600, it holds passwords). Its
existence is what makes a ``.devcloud/`` "not fresh": a fresh one drops and
recreates this checkout's databases and vhost before using them, so nothing
left on a shared MariaDB/RabbitMQ by an earlier checkout is ever reused.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from typing import Any

from .layout import Layout

# Offsets from the port base; every listener binds 127.0.0.1 only.
PORT_OFFSETS = {
    "keystone": 0,
    "placement": 1,
    "nova": 2,
    "neutron": 3,
    "glance": 4,
    "cinder": 5,
    "mariadb": 6,
    "rabbitmq": 7,
    "rabbitmq_dist": 8,
    "kubernetes": 9,  # the Kubernetes API emulator (devcloudctl/kube.py)
}
DEFAULT_PORT_BASE = 25000  # clear of OpenStack's (5000, 8774-8778, 9292, 9696) and common dev ports
PORT_BASE_STEP = 100
PORT_BASE_TRIES = 20


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_ports(first_base: int) -> dict[str, int]:
    """The first block of ports, from ``first_base`` on, that nothing listens on now."""
    for i in range(PORT_BASE_TRIES):
        base = first_base + i * PORT_BASE_STEP
        ports = {name: base + off for name, off in PORT_OFFSETS.items()}
        if all(port_free(p) for p in ports.values()):
            return ports
    raise RuntimeError(f"no free block of ports from {first_base} on")


class State:
    def __init__(self, layout: Layout, data: dict[str, Any], fresh: bool) -> None:
        self.layout = layout
        self.data = data
        self.fresh = fresh

    @classmethod
    def load(cls, layout: Layout) -> State:
        path = layout.state_file
        if path.exists():
            return cls(layout, json.loads(path.read_text()), fresh=False)
        base = int(os.environ.get("DEVCLOUD_PORT_BASE", DEFAULT_PORT_BASE))
        data = {
            "checkout": str(layout.repo),
            "suffix": layout.checkout_suffix(),
            "ports": choose_ports(base),
            "secrets": {
                "admin": secrets.token_urlsafe(18),
                "service": secrets.token_urlsafe(18),
                "database": secrets.token_urlsafe(18),
            },
            "backends": {},
            "phases": {},
        }
        return cls(layout, data, fresh=True)

    def save(self) -> None:
        path = self.layout.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
        self.fresh = False

    # -- accessors -------------------------------------------------------------------------

    @property
    def suffix(self) -> str:
        return self.data["suffix"]

    @property
    def ports(self) -> dict[str, int]:
        return self.data["ports"]

    def secret(self, name: str) -> str:
        return self.data["secrets"][name]

    @property
    def backends(self) -> dict[str, Any]:
        return self.data["backends"]

    def done(self, phase: str) -> bool:
        return bool(self.data["phases"].get(phase))

    def mark(self, phase: str, value: bool = True) -> None:
        if value:
            self.data["phases"][phase] = True
        else:
            self.data["phases"].pop(phase, None)
        self.save()

    def forget_phases(self) -> None:
        self.data["phases"] = {}
        self.save()

    # -- names derived from the checkout suffix --------------------------------------------

    def db_name(self, service: str) -> str:
        return f"dc_{self.suffix}_{service}"

    @property
    def db_user(self) -> str:
        return f"dc_{self.suffix}"

    @property
    def vhost(self) -> str:
        return f"devcloud-{self.suffix}"

    def keystone_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['keystone']}/v3"
