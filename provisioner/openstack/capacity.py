"""The cloud's compute capacity as Placement reports it: inventory, ratios, reservations, use.

What this module deliberately does not do: decide whether tenants fit (the
capacity gate in the application does) or look at any one project.
"""

from __future__ import annotations

from provisioner.backend import CapacityLine
from provisioner.openstack.connection import TRANSIENT, Admin, translate_error

_NAMES = {"VCPU": "cores", "MEMORY_MB": "ram_mb", "DISK_GB": "disk_gb"}


def capacity(admin: Admin) -> list[CapacityLine]:
    """Placement inventory and usage of all compute nodes, with allocation ratios."""
    placement = admin.conn.placement
    totals: dict[str, list[float]] = {}
    try:
        for provider in placement.resource_providers():
            for inv in placement.resource_provider_inventories(provider):
                name = _NAMES.get(inv.resource_class)
                if name is None:
                    continue
                line = totals.setdefault(name, [0.0, 0.0, 0.0, 0.0, 0.0])
                line[0] += (inv.total - inv.reserved) * inv.allocation_ratio
                line[1] += inv.total
                line[2] = inv.allocation_ratio
                line[3] += inv.reserved
            usages = placement.fetch_resource_provider_usages(provider).usages
            for resource_class, used in (usages or {}).items():
                name = _NAMES.get(resource_class)
                if name in totals:
                    totals[name][4] += used
    except TRANSIENT as exc:
        raise translate_error(exc, "reading Placement inventory") from exc
    return [
        CapacityLine(name, t, inv, ratio, reserved, used)
        for name, (t, inv, ratio, reserved, used) in sorted(totals.items())
    ]
