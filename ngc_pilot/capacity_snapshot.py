"""Capacity snapshots: Placement's inventory and usage, beside what tenants were promised.

Why this exists: ``/metrics`` must be cheap, so it never calls the cloud; the
``serve`` job calls :func:`snapshot` every few minutes and the collector reads
the latest snapshot from the database.  One ``CapacitySnapshot`` row per
resource class, all rows of one snapshot sharing ``taken_at``:

* ``total``, ``reserved``, ``used`` — Placement's inventory, reserved and
  allocated amounts summed over every compute node, in Placement's units
  (VCPU: cores, MEMORY_MB: MiB, DISK_GB: GiB);
* ``allocation_ratio`` — the effective over-commit ratio, chosen so that
  ``(total − reserved) × allocation_ratio`` is exactly what the cloud can
  allocate even when nodes have different ratios;
* ``allocated`` — the quotas promised to tenants that hold them
  (:data:`ALLOCATING_STATES`, the one rule of :mod:`ngc_pilot.tenant_quota`
  that the provisioning gate uses too), from the tenant size policy.  Only VCPU
  (``cores``) and MEMORY_MB (``ram_mb``) have a tenant quota; DISK_GB is Nova's
  local disk, which no project quota limits (Cinder's ``gigabytes`` is a
  different pool), so its ``allocated`` is stored as 0 and
  :data:`QUOTA_FIELD` says it does not apply.

A snapshot is an observation, not a change of the pilot's state, so it writes
no audit event: one every five minutes would bury the decisions the audit log
is for.  The job run that took it is recorded by the scheduler.  Old snapshots
are not pruned here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from ngc_pilot import tenant_quota
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.models import CapacitySnapshot
from policies.tenancy import TenantPolicy

if TYPE_CHECKING:
    from ngc_pilot.provisioner_config import Provisioner

# The backend's resource names and Placement's resource classes.
RESOURCE_CLASS = {"cores": "VCPU", "ram_mb": "MEMORY_MB", "disk_gb": "DISK_GB"}
# Which size-template quota promises each resource class (none for DISK_GB).
QUOTA_FIELD = {"VCPU": "cores", "MEMORY_MB": "ram_mb"}
# Tenants whose quotas count as promised: the same rule as the provisioning gate's.
ALLOCATING_STATES = tenant_quota.HOLDING_STATES


def allocated(policy: TenantPolicy, sizes: Sequence[tuple[str, int]]) -> dict[str, float]:
    """Promised amount per resource class from ``(size, number of tenants)`` pairs."""
    amounts = tenant_quota.promised(policy, sizes)
    return {rc: amounts[field] for rc, field in QUOTA_FIELD.items()}


def tenant_sizes(session: Session) -> list[tuple[str, int]]:
    """``(size, count)`` of the tenants in :data:`ALLOCATING_STATES`."""
    return tenant_quota.holding_sizes(session)


def snapshot(prov: Provisioner, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Read Placement through the backend, store one row per resource class, return them.

    A cloud failure raises :class:`provisioner.backend.CloudError` before
    anything is written; a tenant whose size the policy lacks raises
    :class:`InputError` and nothing is written either.
    """
    lines = prov.backend_factory().capacity()
    taken_at = now or utcnow()
    out: list[dict[str, Any]] = []
    with session_scope(prov.engine) as session:
        promised = allocated(prov.tenant_policy, tenant_sizes(session))
        for line in lines:
            resource_class = RESOURCE_CLASS.get(line.resource)
            if resource_class is None:
                continue
            allocatable = line.inventory - line.reserved
            ratio = line.total / allocatable if allocatable > 0 else line.allocation_ratio
            row = CapacitySnapshot(
                taken_at=taken_at,
                resource_class=resource_class,
                total=line.inventory,
                reserved=line.reserved,
                allocation_ratio=ratio,
                used=line.used,
                allocated=promised.get(resource_class, 0.0),
            )
            session.add(row)
            out.append(as_dict(row, capacity=line.total))
    return out


def as_dict(row: CapacitySnapshot, *, capacity: float | None = None) -> dict[str, Any]:
    quota = row.resource_class in QUOTA_FIELD
    return {
        "taken_at": row.taken_at.isoformat(),
        "resource_class": row.resource_class,
        "total": row.total,
        "reserved": row.reserved,
        "allocation_ratio": row.allocation_ratio,
        "capacity": capacity
        if capacity is not None
        else (row.total - row.reserved) * row.allocation_ratio,
        "used": row.used,
        "allocated": row.allocated if quota else None,
    }
