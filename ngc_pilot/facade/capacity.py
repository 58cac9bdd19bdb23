"""Capacity for every interface: Placement's capacity, the tenants' quotas and their use.

Three things the operators compare: the cloud's capacity as the latest
capacity snapshot recorded it (Placement's inventory, what is allocated on it
and what the tenants were promised), each tenant's quotas from its size, and
what each tenant was metered using in the latest month with usage; beside
them the committed pilots' requested resources over their planned dates.
It reads only the database: it never asks the cloud (the ``capacity`` job
takes the snapshots), and it takes nothing that is missing for zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from ngc_pilot import capacity_snapshot, usage_views, views
from ngc_pilot.db import session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.models import Application, CapacitySnapshot, Pilot, Tenant
from policies.rating import Month
from policies.tenancy import TenantPolicy

# Tenant rows that hold nothing on the cloud any more.
GONE = ("torn_down",)


@dataclass(frozen=True)
class PlacementLine:
    """One resource class of the latest capacity snapshot, in Placement's units."""

    resource_class: str  # VCPU | MEMORY_MB | DISK_GB
    capacity: float  # (total - reserved) x allocation ratio: what can be allocated
    used: float  # allocated on the cloud now (servers, whoever owns them)
    promised: float | None  # the tenants' quotas; None: no tenant quota limits it


@dataclass(frozen=True)
class TenantCapacity:
    """One tenant: its size's quotas and what it was metered using in the month."""

    pilot_id: str
    name: str
    state: str
    size: str
    cores: int | None  # None: the size is not in the tenant policy
    ram_mb: int | None
    used: dict[str, Decimal]  # metric -> quantity in the month (vcpu_hours, ...)


@dataclass(frozen=True)
class CapacityOverview:
    timeline: views.CapacityTimeline
    placement: tuple[PlacementLine, ...]
    taken_at: datetime | None  # of the snapshot; None: no snapshot has been taken
    tenants: tuple[TenantCapacity, ...]
    month: str | None  # of the metered use; None: nothing was metered yet
    quota_problem: str | None = None  # why the tenant policy cannot be read


class CapacityArea(FacadeBase):
    def capacity(self) -> views.CapacityTimeline:
        with session_scope(self.engine) as session:
            return views.capacity_timeline(session, self.policy)

    def capacity_overview(self) -> CapacityOverview:
        """The timeline, the latest Placement snapshot, and every tenant's quotas and use."""
        policy, problem = self._tenant_policy()
        with session_scope(self.engine) as session:
            timeline = views.capacity_timeline(session, self.policy)
            taken_at, placement = _latest_snapshot(session)
            month = usage_views.data_span(session).latest_month
            usage = usage_views.month_usage(session, Month.parse(month)) if month else {}
            tenants = _tenants(session, policy, usage)
        return CapacityOverview(timeline, placement, taken_at, tenants, month, problem)

    def _tenant_policy(self) -> tuple[TenantPolicy | None, str | None]:
        if self.provisioner is None:
            return None, "no cloud is configured for this session"
        try:
            return self.provisioner().tenant_policy, None
        except InputError as exc:
            return None, "; ".join(str(p) for p in exc.problems)


def _latest_snapshot(session: Session) -> tuple[datetime | None, tuple[PlacementLine, ...]]:
    latest = session.exec(select(func.max(CapacitySnapshot.taken_at))).one()
    if latest is None:
        return None, ()
    rows = session.exec(
        select(CapacitySnapshot)
        .where(CapacitySnapshot.taken_at == latest)
        .order_by(col(CapacitySnapshot.resource_class))
    ).all()
    lines = []
    for row in rows:
        data = capacity_snapshot.as_dict(row)
        lines.append(
            PlacementLine(row.resource_class, data["capacity"], row.used, data["allocated"])
        )
    return rows[0].taken_at if rows else latest, tuple(lines)


def _tenants(
    session: Session, policy: TenantPolicy | None, usage: dict[str, dict[str, Decimal]]
) -> tuple[TenantCapacity, ...]:
    rows = session.exec(
        select(Tenant.pilot_id, Application.name, Tenant.state, Tenant.size)
        .join(Pilot, col(Pilot.id) == col(Tenant.pilot_id))
        .join(Application, col(Application.id) == col(Pilot.application_id))
        .where(col(Tenant.state).not_in(GONE))
        .order_by(col(Tenant.pilot_id))
    ).all()
    out = []
    for pilot_id, name, state, size in rows:
        template = policy.sizes.get(size) if policy is not None else None
        out.append(
            TenantCapacity(
                pilot_id,
                name,
                state,
                size,
                template.cores if template is not None else None,
                template.ram_mb if template is not None else None,
                dict(usage.get(pilot_id, {})),
            )
        )
    return tuple(out)
