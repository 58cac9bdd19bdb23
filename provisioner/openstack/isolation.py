"""The isolation probe: act as one tenant's application credential and try to see the others.

Every attempt is a :class:`provisioner.backend.Probe`; a refusal (400, 401,
403, 404) proves nothing leaked, anything else — data, or a 5xx — counts as
a leak.  The probe also tries admin powers (create a project, list every
project's servers and every project).

What this module deliberately does not do: choose the targets (the
application passes every other active tenant) or act as the admin, except to
remove a project the probe managed to create.
"""

from __future__ import annotations

from typing import Any

from openstack import exceptions as os_exceptions

from provisioner.backend import Probe
from provisioner.openstack.connection import Admin, connect_with


def probe_isolation(
    admin: Admin, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
) -> list[Probe]:
    """Act as ``pilot_id``'s application credential and try to see every other tenant."""
    conn = connect_with(
        {
            "auth_url": admin.auth_url(),
            "application_credential_id": credential["id"],
            "application_credential_secret": credential["secret"],
        },
        admin.region(),
        auth_type="v3applicationcredential",
    )
    probes: list[Probe] = []
    try:
        for target, ids in sorted(targets.items()):
            probes.extend(_probe_target(conn, pilot_id, target, ids))
        probes.extend(_probe_admin_powers(admin, conn, pilot_id))
    finally:
        conn.close()
    return probes


def _probe_target(conn: Any, pilot_id: str, target: str, ids: dict[str, str]) -> list[Probe]:
    checks = [
        ("network", lambda: conn.network.get_network(ids["network_id"])),
        ("subnet", lambda: conn.network.get_subnet(ids["subnet_id"])),
        ("router", lambda: conn.network.get_router(ids["router_id"])),
        ("security group", lambda: conn.network.get_security_group(ids["security_group_id"])),
        ("compute quota", lambda: conn.compute.get_quota_set(ids["project_id"])),
        ("usage", lambda: conn.compute.get_usage(ids["project_id"])),
        ("project", lambda: conn.identity.get_project(ids["project_id"])),
        (
            "servers",
            lambda: list(conn.compute.servers(project_id=ids["project_id"], all_projects=True)),
        ),
        (
            "volumes",
            lambda: list(
                conn.block_storage.volumes(project_id=ids["project_id"], all_projects=True)
            ),
        ),
    ]
    out = []
    for what, call in checks:
        if not all(v for v in ids.values()):
            continue
        leaked, detail = _attempt(call)
        if isinstance(leaked, list):
            leaked = any(getattr(item, "project_id", None) == ids["project_id"] for item in leaked)
        out.append(Probe(pilot_id, target, what, bool(leaked), detail))
    return out


def _probe_admin_powers(admin: Admin, conn: Any, pilot_id: str) -> list[Probe]:
    out = []
    leaked, detail = _attempt(
        lambda: conn.identity.create_project(name=f"ngc-probe-{pilot_id.lower()}")
    )
    if leaked is not False and hasattr(leaked, "id"):
        admin.conn.identity.delete_project(leaked.id, ignore_missing=True)
    out.append(Probe(pilot_id, "(cloud)", "create project", leaked is not False, detail))
    leaked, detail = _attempt(lambda: list(conn.compute.servers(all_projects=True)))
    own = conn.current_project_id
    if isinstance(leaked, list):
        leaked = any(getattr(s, "project_id", own) != own for s in leaked)
    out.append(Probe(pilot_id, "(cloud)", "list servers of all projects", bool(leaked), detail))
    leaked, detail = _attempt(lambda: list(conn.identity.projects()))
    if isinstance(leaked, list):
        leaked = any(p.id != own for p in leaked)
    out.append(Probe(pilot_id, "(cloud)", "list all projects", bool(leaked), detail))
    return out


def _attempt(call: Any) -> tuple[Any, str]:
    try:
        result = call()
    except os_exceptions.ForbiddenException:
        return False, "403 forbidden"
    except os_exceptions.NotFoundException:
        return False, "404 not found"
    except os_exceptions.HttpException as exc:
        code = getattr(exc, "status_code", "?")
        # Any refusal returns no data: 400 (e.g. Cinder refusing all_tenants to a
        # member), 401, 403, 404.  A 5xx is not proof of isolation: count it.
        return (
            (False, f"HTTP {code} refused")
            if code in (400, 401, 403, 404)
            else (True, f"HTTP {code}: unexpected")
        )
    if isinstance(result, list):
        return result, f"{len(result)} item(s) listed"
    return result, "visible"
