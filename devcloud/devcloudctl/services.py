"""The OpenStack processes devcloud runs, how to launch each and how to tell it works.

APIs run under gunicorn (one worker process, Neutron two; a few threads
each; 127.0.0.1 only); the other daemons run as their own console scripts.
``heartbeat`` names the binary whose service record (``os-services``) proves
a non-API daemon is alive and talking to the message bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import Layout
from .state import State

API_THREADS = 8  # requests in flight per API; ngc-pilot provisions several tenants at once
# Worker processes per API (default 1).  Neutron answers most of a parallel
# provisioning's requests and, in one process, uses one core at most; a
# production Neutron runs several API processes (the WSGI server's; Neutron's
# own ``api_workers`` defaulted to one per core), so devcloud runs one per core
# of the 2-core machines it is made for.  Not Keystone: its token cache is
# in-process (see keystone.conf), so a second worker would accept a token the
# first had revoked.  Rendered into neutron.conf, so changing it restarts Neutron.
API_WORKERS = {"neutron-api": 2}


@dataclass(frozen=True)
class Service:
    name: str
    project: str  # keystone, nova, ...: which config and log family
    api_port_key: str | None = None  # set for HTTP APIs
    probe_path: str = "/"
    console_script: str | None = None  # for non-API daemons
    config: str = ""  # config file below .devcloud/etc
    config_env: dict[str, str] = field(default_factory=dict)
    heartbeat: tuple[str, str] | None = None  # (api that lists services, binary)

    @property
    def is_api(self) -> bool:
        return self.api_port_key is not None


SERVICES = [
    Service(
        "keystone",
        "keystone",
        api_port_key="keystone",
        probe_path="/v3",
        config="keystone/keystone.conf",
        config_env={"OS_KEYSTONE_CONFIG_DIR": "keystone"},
    ),
    Service(
        "placement",
        "placement",
        api_port_key="placement",
        config="placement/placement.conf",
        config_env={"OS_PLACEMENT_CONFIG_DIR": "placement"},
    ),
    Service(
        "nova-api",
        "nova",
        api_port_key="nova",
        config="nova/nova.conf",
        config_env={"OS_NOVA_CONFIG_DIR": "nova"},
    ),
    Service(
        "neutron-api",
        "neutron",
        api_port_key="neutron",
        config="neutron/neutron.conf",
        config_env={"OS_NEUTRON_CONFIG_DIR": "neutron", "OS_NEUTRON_CONFIG_FILES": "neutron.conf"},
    ),
    Service(
        "glance-api",
        "glance",
        api_port_key="glance",
        config="glance/glance-api.conf",
        config_env={"OS_GLANCE_CONFIG_DIR": "glance"},
    ),
    Service(
        "cinder-api",
        "cinder",
        api_port_key="cinder",
        config="cinder/cinder.conf",
        config_env={"OS_CINDER_CONFIG_DIR": "cinder"},
    ),
    Service(
        "nova-conductor",
        "nova",
        console_script="nova-conductor",
        config="nova/nova.conf",
        heartbeat=("compute", "nova-conductor"),
    ),
    Service(
        "nova-scheduler",
        "nova",
        console_script="nova-scheduler",
        config="nova/nova.conf",
        heartbeat=("compute", "nova-scheduler"),
    ),
    Service(
        "cinder-scheduler",
        "cinder",
        console_script="cinder-scheduler",
        config="cinder/cinder.conf",
        heartbeat=("volume", "cinder-scheduler"),
    ),
    Service(
        "cinder-volume",
        "cinder",
        console_script="cinder-volume",
        config="cinder/cinder.conf",
        heartbeat=("volume", "cinder-volume"),
    ),
    # started last, once the conductor answers: it reaches the database only through it
    Service(
        "nova-compute",
        "nova",
        console_script="nova-compute",
        config="nova/nova-compute.conf",
        heartbeat=("compute", "nova-compute"),
    ),
]

BY_NAME = {s.name: s for s in SERVICES}

_WSGI_APP = {
    "keystone": "keystone",
    "placement": "placement",
    "nova-api": "nova",
    "neutron-api": "neutron",
    "glance-api": "glance",
    "cinder-api": "cinder",
}


def argv(service: Service, layout: Layout, state: State) -> list[str]:
    config = str(layout.etc / service.config)
    if service.is_api:
        port = state.ports[service.api_port_key]
        return [
            str(layout.bin / "gunicorn"),
            "--no-control-socket",
            "--worker-class",
            "gthread",
            "--workers",
            str(API_WORKERS.get(service.name, 1)),
            "--threads",
            str(API_THREADS),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "300",
            "--graceful-timeout",
            "5",
            "--name",
            f"devcloud-{service.name}",
            f"devcloud_shims.wsgi:load('{_WSGI_APP[service.name]}')",
        ]
    return [str(layout.bin / service.console_script), "--config-file", config]


def environment(service: Service, layout: Layout, base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env["DEVCLOUD_CONFIG_FILE"] = str(layout.etc / service.config)
    for key, sub in service.config_env.items():
        env[key] = str(layout.etc / sub) if key.endswith("_DIR") else sub
    return env
