"""Render the services' config files from ``devcloud/templates/`` into ``.devcloud/etc/``.

Templates use ``{{name}}`` placeholders (oslo.config itself interpolates ``$name``,
so that syntax stays free). A missing value is an error, never an empty string.
Files are only rewritten when their content changes, and are mode 0600: they
hold the service passwords.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil

from .layout import Layout
from .services import API_WORKERS
from .state import State

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

# template -> rendered path below .devcloud/etc
TEMPLATES = {
    "keystone.conf": "keystone/keystone.conf",
    "placement.conf": "placement/placement.conf",
    "nova.conf": "nova/nova.conf",
    "nova-compute.conf": "nova/nova-compute.conf",
    "neutron.conf": "neutron/neutron.conf",
    "glance-api.conf": "glance/glance-api.conf",
    "cinder.conf": "cinder/cinder.conf",
}

# files shipped by the services' wheels (venv/etc/...) -> below .devcloud/etc
SHIPPED_FILES = {
    "nova/api-paste.ini": "nova/api-paste.ini",
    "neutron/api-paste.ini": "neutron/api-paste.ini",
    "glance/glance-api-paste.ini": "glance/glance-api-paste.ini",
    "cinder/api-paste.ini": "cinder/api-paste.ini",
    "cinder/resource_filters.json": "cinder/resource_filters.json",
}


def _auth_lines(state: State, user: str) -> str:
    """A keystoneauth password section for service user ``user`` in project ``service``."""
    return "\n".join(
        [
            "auth_type = password",
            f"auth_url = http://127.0.0.1:{state.ports['keystone']}/v3",
            f"username = {user}",
            f"password = {state.secret('service')}",
            "project_name = service",
            "user_domain_name = Default",
            "project_domain_name = Default",
            "region_name = RegionOne",
            "valid_interfaces = public",
        ]
    )


def _authtoken_lines(state: State, user: str) -> str:
    return "\n".join(
        [
            f"www_authenticate_uri = http://127.0.0.1:{state.ports['keystone']}/v3",
            _auth_lines(state, user),
            "service_token_roles_required = true",
            "service_token_roles = service",
        ]
    )


def _nova_shared(state: State) -> tuple[str, str]:
    common = "\n".join(
        [
            "sync_power_state_interval = -1",
            "periodic_fuzzy_delay = 0",
            "heal_instance_info_cache_interval = -1",
            "instance_usage_audit = false",
            "# the fake driver never plugs anything: no vif-plugged event will come",
            "vif_plugging_is_fatal = false",
            "vif_plugging_timeout = 0",
        ]
    )
    data = state.layout.data
    clients = "\n".join(
        [
            "",
            "[placement]",
            _auth_lines(state, "placement"),
            "",
            "[neutron]",
            _auth_lines(state, "neutron"),
            "",
            "[glance]",
            "region_name = RegionOne",
            "valid_interfaces = public",
            "",
            "[cinder]",
            "os_region_name = RegionOne",
            _auth_lines(state, "cinder"),
            "",
            "[service_user]",
            "send_service_user_token = true",
            _auth_lines(state, "nova"),
            "",
            "[oslo_concurrency]",
            f"lock_path = {data}/nova/lock",
            "",
            "[oslo_messaging_notifications]",
            "driver = noop",
            "",
            "[vnc]",
            "enabled = false",
            "",
            "[serial_console]",
            "enabled = false",
            "",
        ]
    )
    return common, clients


def values(state: State) -> dict[str, str]:
    layout: Layout = state.layout
    db = state.backends["mariadb"]
    rabbit = state.backends["rabbitmq"]
    db_url = f"mysql+pymysql://{state.db_user}:{state.secret('database')}@127.0.0.1:{db['port']}"
    vhost = rabbit.get("vhost", "")
    nova_common, nova_clients = _nova_shared(state)
    v = {
        "etc": str(layout.etc),
        "data": str(layout.data),
        "db_url": db_url,
        "transport_url": f"rabbit://guest:guest@127.0.0.1:{rabbit['port']}/{vhost}",
        "nova_common": nova_common,
        "nova_clients": nova_clients,
        "neutron_api_workers": str(API_WORKERS.get("neutron-api", 1)),
    }
    for service in (
        "keystone",
        "placement",
        "nova_api",
        "nova_cell0",
        "nova_cell1",
        "neutron",
        "glance",
        "cinder",
    ):
        v[f"db_{service}"] = state.db_name(service)
    for service, port in state.ports.items():
        v[f"port_{service}"] = str(port)
    for user in ("placement", "nova", "neutron", "glance", "cinder"):
        v[f"authtoken_{user}"] = _authtoken_lines(state, user)
        v[f"auth_{user}"] = _auth_lines(state, user)
    return v


def database_names(state: State) -> list[str]:
    return [
        state.db_name(s)
        for s in (
            "keystone",
            "placement",
            "nova_api",
            "nova_cell0",
            "nova_cell1",
            "neutron",
            "glance",
            "cinder",
        )
    ]


def _write_if_changed(path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


def render(template_text: str, vals: dict[str, str], name: str) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in vals:
            raise KeyError(f"{name}: no value for {{{{{key}}}}}")
        return vals[key]

    return _PLACEHOLDER.sub(sub, template_text)


def fingerprint(layout: Layout) -> str:
    """Changes whenever a template, its values or a daemon's command line changes, so a
    running devcloud knows it must re-render (and restart what a changed config runs)."""
    h = hashlib.sha256()
    sources = layout.source / "devcloudctl"
    for path in [
        *sorted(layout.templates.iterdir()),
        sources / "configs.py",
        sources / "services.py",
    ]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def render_all(state: State) -> set[str]:
    """Write every config file; return the projects (``nova``, ...) whose files changed."""
    layout = state.layout
    vals = values(state)
    changed: set[str] = set()
    for template, target in TEMPLATES.items():
        text = render((layout.templates / template).read_text(), vals, template)
        if _write_if_changed(layout.etc / target, text):
            changed.add(target.split("/")[0])
    for source, target in SHIPPED_FILES.items():
        src = layout.venv / "etc" / source
        dst = layout.etc / target
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            changed.add(target.split("/")[0])
    for sub in (
        "nova/instances",
        "nova/lock",
        "neutron/lock",
        "glance/images",
        "glance/staging",
        "glance/tasks",
        "glance/cache",
        "glance/lock",
        "cinder/lock",
        "keystone",
    ):
        (layout.data / sub).mkdir(parents=True, exist_ok=True)
    return changed
