"""Which tenants hold a promise of capacity, and how much they were promised.

Why this exists: the provisioning gate (will the new tenants' quotas fit?), the
capacity snapshot and the ``/metrics`` allocation all add up tenants' quotas;
they must count the same tenants, or the gate and the dashboard disagree.  The
one rule: a tenant holds its size's quotas from the moment it is being
provisioned until it is torn down — ``provisioning``, ``active``,
``suspended`` (its data stays, it may be resumed within the grace period) and
``failed`` (a failed run or teardown may have set the quotas, and a re-run
will).  A ``planned`` tenant holds nothing yet; the gate adds the tenants it is
about to provision itself.  This module deliberately reads no cloud and knows
nothing of Placement's resource classes (:mod:`ngc_pilot.capacity_snapshot`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from ngc_pilot.errors import InputError
from ngc_pilot.models import Tenant
from policies.problems import Problem
from policies.tenancy import TenantPolicy

HOLDING_STATES = ("provisioning", "active", "suspended", "failed")
# The quota fields that promise capacity, in the backend's resource names.
PROMISED_RESOURCES = ("cores", "ram_mb")


def holding_tenants(session: Session) -> list[Tenant]:
    """The tenants in :data:`HOLDING_STATES`."""
    return list(
        session.exec(
            select(Tenant)
            .where(col(Tenant.state).in_(HOLDING_STATES))
            .order_by(col(Tenant.pilot_id))
        ).all()
    )


def holding_sizes(session: Session) -> list[tuple[str, int]]:
    """``(size, count)`` of the tenants in :data:`HOLDING_STATES`."""
    rows = session.exec(
        select(Tenant.size, func.count())
        .where(col(Tenant.state).in_(HOLDING_STATES))
        .group_by(Tenant.size)
    ).all()
    return [(size, int(count)) for size, count in rows]


def promised(policy: TenantPolicy, sizes: Iterable[tuple[str, int]]) -> dict[str, float]:
    """Promised amount per :data:`PROMISED_RESOURCES` from ``(size, number of
    tenants)`` pairs; a size the policy lacks is refused, naming the sizes it has."""
    sizes = list(sizes)
    unknown = sorted({size for size, _ in sizes if size not in policy.sizes})
    if unknown:
        raise InputError(
            [
                Problem(
                    "tenant",
                    "size",
                    size,
                    f"not a size of the tenant policy (sizes: {', '.join(sorted(policy.sizes))})",
                )
                for size in unknown
            ]
        )
    totals = dict.fromkeys(PROMISED_RESOURCES, 0.0)
    for size, count in sizes:
        template = policy.sizes[size]
        for resource in PROMISED_RESOURCES:
            totals[resource] += float(getattr(template, resource)) * count
    return totals


def with_new(held: Sequence[Tenant], new: Sequence[Tenant]) -> list[tuple[str, int]]:
    """``(size, 1)`` for each tenant held or about to be provisioned, each tenant once."""
    counted = {t.pilot_id: t for t in held}
    for tenant in new:
        counted[tenant.pilot_id] = tenant
    return [(t.size, 1) for t in counted.values()]
