"""Read-only views over the service layer that screens need and the CLI does not (yet).

The terminal UI shows aggregates that no command prints: the committed pilots
joined with what their nominations ask for, the allocation of those requests
over the pilot months against the policy's capacity, and a cheap fingerprint
of the applications so a proposal solved a while ago is not committed after
the data under it changed.  Everything here only reads; state changes stay in
``intake`` and ``selection``.  "Allocation" is what the committed pilots'
nominations request: tenant quotas replace it once provisioning lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from ngc_pilot.models import Application, Pilot
from policies.selection_policy import SelectionPolicy

RESOURCES = ("vcpus", "ram_gb", "storage_tb", "gpus")
ACTIVE_PILOT_STATES = frozenset({"selected"})


@dataclass(frozen=True)
class PilotView:
    """A pilot with the facts of its nomination that operations look at beside it."""

    id: str
    name: str
    institution: str
    state: str
    decision_id: int
    planned_start: date
    planned_end: date
    resources: dict[str, float]


@dataclass(frozen=True)
class MonthAllocation:
    month: str  # "2021-05"
    first: date
    last: date
    peak: dict[str, float]  # highest allocation on any day of the month, per resource
    active: tuple[str, ...]  # pilots running on at least one day of the month


@dataclass(frozen=True)
class CapacityTimeline:
    period_start: date
    period_end: date
    capacity: dict[str, float]
    days: tuple[date, ...]
    daily: dict[str, tuple[float, ...]]  # allocation per resource on each day of ``days``
    months: tuple[MonthAllocation, ...]
    pilots: tuple[PilotView, ...]  # the active pilots the allocation is made of


def pilots(session: Session, *, include_withdrawn: bool = True) -> list[PilotView]:
    """Every pilot (or only active ones) with its nomination's name, institution, resources."""
    rows = session.exec(
        select(Pilot, Application)
        .join(Application, col(Application.id) == col(Pilot.application_id))
        .order_by(col(Pilot.planned_start), col(Pilot.id))
    ).all()
    out = []
    for pilot, application in rows:
        if not include_withdrawn and pilot.state not in ACTIVE_PILOT_STATES:
            continue
        requested = application.document.get("resources", {})
        out.append(
            PilotView(
                id=pilot.id,
                name=application.name,
                institution=application.institution,
                state=pilot.state,
                decision_id=pilot.decision_id,
                planned_start=pilot.planned_start,
                planned_end=pilot.planned_end,
                resources={r: float(requested.get(r, 0) or 0) for r in RESOURCES},
            )
        )
    return out


def allocation_timeline(pilots: Sequence[PilotView], policy: SelectionPolicy) -> CapacityTimeline:
    """Day-by-day and month-by-month allocation of ``pilots`` over the pilot period."""
    start, end = policy.pilot_period.start, policy.pilot_period.end
    days = tuple(start + timedelta(days=n) for n in range((end - start).days + 1))
    daily: dict[str, list[float]] = {r: [0.0] * len(days) for r in RESOURCES}
    for pilot in pilots:
        first = max((pilot.planned_start - start).days, 0)
        last = min((pilot.planned_end - start).days, len(days) - 1)
        for r in RESOURCES:
            amount = pilot.resources.get(r, 0.0)
            if amount:
                series = daily[r]
                for n in range(first, last + 1):
                    series[n] += amount
    months = []
    month_start = start
    while month_start <= end:
        following = (month_start.replace(day=1) + timedelta(days=32)).replace(day=1)
        month_end = min(following - timedelta(days=1), end)
        lo, hi = (month_start - start).days, (month_end - start).days
        months.append(
            MonthAllocation(
                month=month_start.strftime("%Y-%m"),
                first=month_start,
                last=month_end,
                peak={r: round(max(daily[r][lo : hi + 1]), 3) for r in RESOURCES},
                active=tuple(
                    p.id
                    for p in pilots
                    if p.planned_start <= month_end and p.planned_end >= month_start
                ),
            )
        )
        month_start = following
    return CapacityTimeline(
        period_start=start,
        period_end=end,
        capacity=policy.capacity.as_dict(),
        days=days,
        daily={r: tuple(round(v, 3) for v in values) for r, values in daily.items()},
        months=tuple(months),
        pilots=tuple(pilots),
    )


def capacity_timeline(session: Session, policy: SelectionPolicy) -> CapacityTimeline:
    """Allocation of the active (selected, not withdrawn) pilots against the policy capacity."""
    return allocation_timeline(pilots(session, include_withdrawn=False), policy)


def applications_fingerprint(session: Session) -> tuple[int, int, str]:
    """Changes whenever an application is added or revised: (count, revisions, newest update)."""
    count, revisions, newest = session.exec(
        select(
            func.count(col(Application.id)),
            func.coalesce(func.sum(col(Application.revision)), 0),
            func.max(col(Application.updated_at)),
        )
    ).one()
    return int(count), int(revisions), "" if newest is None else str(newest)
