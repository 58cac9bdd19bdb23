"""The numbers of the steering group's monthly report, gathered from the database.

Why this exists: every figure in the report must equal what ``ngc-pilot
usage``, ``invoice`` and ``evaluation list`` show for the same month, so this
module gathers them *with the functions those commands use*
(:func:`ngc_pilot.metering.usage_summary`, :func:`ngc_pilot.billing.invoices`
and :func:`ngc_pilot.billing.what_if`, :func:`ngc_pilot.evaluation_results.summary`,
:func:`ngc_pilot.support_log.stats`, :func:`ngc_pilot.milestones.milestones`,
:func:`ngc_pilot.change_requests.list_requests`)
and hands the renderers one frozen :class:`ReportData`.  It reads only; the
shadow invoices are the stored ones (``invoice --no-rate``), the candidate
price lists are priced as a what-if that writes nothing.

Over 400 lines because each section's gathering is a short function over
the same session and the same frozen dataclasses; the risk rules, which stand
alone, are in :mod:`ngc_pilot.report_risks`.

Deliberately not here: words (``ngc_pilot.report_messages``), layout
(``report_render``, ``report_pdf``), writing files and auditing
(``ngc_pilot.reports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ngc_pilot import (
    billing,
    capacity_snapshot,
    change_requests,
    evaluation_results,
    metering,
    report_risks,
    selection,
    support_log,
)
from ngc_pilot import milestones as milestone_log
from ngc_pilot.db import session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.lifecycle.data_access import data_sources
from ngc_pilot.models import Application, CapacitySnapshot, Invoice, Pilot, Tenant, UsageRecord
from ngc_pilot.report_risks import Risk
from policies.evaluation import Questionnaire
from policies.lifecycle import LifecyclePolicy, has_national_data
from policies.portfolio import attribute_values
from policies.prices import PriceList, load_prices
from policies.problems import InputProblems, Problem
from policies.rating import Month
from policies.selection_policy import SelectionPolicy
from policies.tenancy import TenantPolicy


@dataclass(frozen=True)
class Decision:
    id: int
    decided_at: datetime
    decided_by: str
    reason: str
    policy_digest: str
    k_min: int
    k_max: int
    optimal: bool
    objective: float
    selected: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    """One heterogeneity dimension: values the selection covers and values it does not."""

    dimension: str
    covered: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class PilotRow:
    pilot_id: str
    name: str
    institution: str
    state: str
    tenant_state: str | None
    planned_start: date
    planned_end: date
    milestones: tuple[tuple[str, date], ...]  # (kind, reached on)
    data_access: date | None  # granted on
    dpa: str  # signed | in_progress | none
    access_date: date | None = None  # from when it may be granted: its own or the policy's
    access_own: bool = False  # access_date is the pilot's own (pilot.data_access_date)
    access_wanted: bool = True  # False: its nomination names no national genome data


@dataclass(frozen=True)
class PendingRequest:
    """A change request still waiting for a decision (``ngc-pilot request list``)."""

    id: int
    pilot_id: str
    kind: str  # extend | resize | add_member | data_access
    value: str  # the wanted end date, size or e-mail; empty for data access
    filed_at: datetime
    age_days: int  # whole days from filing to the report's generation


@dataclass(frozen=True)
class UsageLine:
    """One row of ``ngc-pilot usage --json`` for the month."""

    pilot_id: str
    metric: str
    quantity: Decimal
    unit: str
    windows: int


@dataclass(frozen=True)
class Cost:
    pilot_id: str
    list_total: Decimal
    discount_total: Decimal
    charged_total: Decimal
    revision: int = 0  # 0: a what-if, not a stored invoice


@dataclass(frozen=True)
class Candidate:
    """The month's usage priced under one candidate price list."""

    source: str  # file name
    currency: str
    costs: tuple[Cost, ...]
    problem: str | None = None  # why it cannot be read (then no costs)

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        return _totals(self.costs)


@dataclass(frozen=True)
class CapacitySeries:
    """One resource class over the month, one point per capacity snapshot."""

    resource_class: str
    times: tuple[datetime, ...]
    capacity: tuple[float, ...]
    allocated: tuple[float, ...]
    used: tuple[float, ...]


@dataclass(frozen=True)
class ReportData:
    month: str
    generated_at: datetime
    decision: Decision | None
    coverage: tuple[Coverage, ...]
    coverage_unknown: int  # applications whose document could not be assessed
    pilots: tuple[PilotRow, ...]
    usage: tuple[UsageLine, ...]
    currency: str
    invoices: tuple[Cost, ...]
    candidates: tuple[Candidate, ...]
    capacity: tuple[CapacitySeries, ...]
    evaluation: dict[str, Any] | None  # evaluation_results.summary, or None
    comments: dict[str, list[dict[str, str]]]  # area -> free-text comments
    evaluation_problem: str | None
    support: dict[str, Any]  # support_log.stats for the month
    risks: tuple[Risk, ...]
    requests: tuple[PendingRequest, ...] = ()

    def invoice_totals(self) -> tuple[Decimal, Decimal, Decimal]:
        return _totals(self.invoices)


def _totals(costs: Sequence[Cost]) -> tuple[Decimal, Decimal, Decimal]:
    return (
        sum((c.list_total for c in costs), Decimal("0.00")),
        sum((c.discount_total for c in costs), Decimal("0.00")),
        sum((c.charged_total for c in costs), Decimal("0.00")),
    )


def parse_month(text: str) -> Month:
    """The month, or one clear problem naming it (exit code 2 at the CLI)."""
    return billing.parse_month(text, "month")


def month_has_data(session: Session, month: Month) -> bool:
    """Usage, an invoice, a capacity snapshot or a support item in ``month``, or a pilot
    whose planned dates overlap it."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = start + timedelta(days=month.days)
    probes = [
        select(UsageRecord.id).where(
            col(UsageRecord.window_start) >= start, col(UsageRecord.window_start) < end
        ),
        select(Invoice.id).where(Invoice.month == str(month)),
        select(CapacitySnapshot.id).where(
            col(CapacitySnapshot.taken_at) >= start, col(CapacitySnapshot.taken_at) < end
        ),
        select(Pilot.id).where(
            col(Pilot.planned_start) < end.date(), col(Pilot.planned_end) >= start.date()
        ),
    ]
    return any(session.exec(q.limit(1)).first() is not None for q in probes)


def candidate_price_files(configured: Path | None) -> list[Path]:
    """The price list in force first, then every other ``prices*.yaml`` shipped in policies/."""
    shipped = Path(str(resources.files("policies")))
    files = sorted(shipped.glob("prices*.yaml"), key=lambda p: (p.name != "prices.yaml", p.name))
    first = configured if configured is not None else shipped / "prices.yaml"
    return [first, *[f for f in files if f.resolve() != Path(first).resolve()]]


def _load(path: Path) -> PriceList:
    try:
        return load_prices(path)
    except InputProblems as exc:
        raise InputError(exc.problems) from exc


def _decision(session: Session) -> Decision | None:
    rows = selection.decisions(session)
    if not rows:
        return None
    d = rows[-1]
    return Decision(
        d.id or 0,
        d.decided_at,
        d.decided_by,
        d.reason,
        d.policy_digest,
        d.k_min,
        d.k_max,
        d.optimal,
        d.objective,
        tuple(d.selected),
    )


def _coverage(
    session: Session, policy: SelectionPolicy | None, selected: Sequence[str]
) -> tuple[tuple[Coverage, ...], int]:
    """Per dimension, the values of eligible applications the selection covers or not."""
    if policy is None:
        return (), 0
    seen: dict[str, set[str]] = {}
    covered: dict[str, set[str]] = {}
    unknown = 0
    for app in selection.applications(session):
        try:
            assessed = selection.assess_one(app, policy)
        except (ValueError, InputError, InputProblems):
            unknown += 1
            continue
        if not assessed.eligibility.eligible and app.id not in selected:
            continue
        for dimension, values in attribute_values(assessed.nomination, policy).items():
            seen.setdefault(dimension, set()).update(values)
            if app.id in selected:
                covered.setdefault(dimension, set()).update(values)
    out = tuple(
        Coverage(
            dim,
            tuple(sorted(covered.get(dim, set()))),
            tuple(sorted(values - covered.get(dim, set()))),
        )
        for dim, values in seen.items()
    )
    return out, unknown


def _pilots(session: Session, lifecycle: LifecyclePolicy | None) -> tuple[PilotRow, ...]:
    reached: dict[str, list[tuple[str, date]]] = {}
    for m in milestone_log.milestones(session):
        reached.setdefault(m.pilot_id, []).append((m.kind, m.reached_at.date()))
    rows = session.exec(
        select(Pilot, Application, Tenant)
        .join(Application, col(Application.id) == col(Pilot.application_id))
        .outerjoin(Tenant, col(Tenant.pilot_id) == col(Pilot.id))
        .order_by(col(Pilot.id))
    ).all()
    return tuple(
        PilotRow(
            pilot.id,
            app.name,
            app.institution,
            pilot.state,
            tenant.state if tenant is not None else None,
            pilot.planned_start,
            pilot.planned_end,
            tuple(reached.get(pilot.id, [])),
            tenant.data_access_granted_at.date()
            if tenant is not None and tenant.data_access_granted_at
            else None,
            app.data_processing_agreement,
            pilot.data_access_date or (lifecycle.data_access.date if lifecycle else None),
            pilot.data_access_date is not None,
            lifecycle is None or has_national_data(lifecycle, data_sources(app)),
        )
        for pilot, app, tenant in rows
    )


def _pending(session: Session, now: datetime) -> tuple[PendingRequest, ...]:
    return tuple(
        PendingRequest(
            r.id or 0,
            r.pilot_id,
            r.kind,
            r.value,
            r.filed_at,
            max(0, (now - r.filed_at).days),
        )
        for r in change_requests.list_requests(session, status="pending")
    )


def _usage(session: Session, month: Month) -> tuple[UsageLine, ...]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    rows = metering.usage_summary(session, since=start, until=start + timedelta(days=month.days))
    return tuple(
        UsageLine(r["pilot"], r["metric"], r["quantity"], r["unit"], r["windows"]) for r in rows
    )


def _candidates(
    engine: Engine, month: Month, current: PriceList, files: Sequence[Path]
) -> tuple[Candidate, ...]:
    out = []
    for path in files:
        try:
            other = _load(path)
        except InputError as exc:
            problem = "; ".join(str(p) for p in exc.problems)
            out.append(Candidate(path.name, current.currency, (), problem))
            continue
        rows = billing.what_if(engine, str(month), current, other)
        costs = tuple(
            Cost(r.pilot_id, r.other.list_total, r.other.discount_total, r.other.charged_total)
            for r in rows
        )
        out.append(Candidate(path.name, other.currency, costs))
    return tuple(out)


def _capacity(session: Session, month: Month) -> tuple[CapacitySeries, ...]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = start + timedelta(days=month.days)
    rows = session.exec(
        select(CapacitySnapshot)
        .where(col(CapacitySnapshot.taken_at) >= start, col(CapacitySnapshot.taken_at) < end)
        .order_by(col(CapacitySnapshot.resource_class), col(CapacitySnapshot.taken_at))
    ).all()
    series: dict[str, list[tuple[datetime, float, float, float]]] = {}
    for row in rows:
        data = capacity_snapshot.as_dict(row)
        series.setdefault(row.resource_class, []).append(
            (row.taken_at, float(data["capacity"]), float(row.allocated), float(row.used))
        )
    return tuple(
        CapacitySeries(
            rc,
            tuple(p[0] for p in points),
            tuple(p[1] for p in points),
            tuple(p[2] for p in points),
            tuple(p[3] for p in points),
        )
        for rc, points in series.items()
    )


def gather(
    engine: Engine,
    month: str,
    *,
    prices: PriceList,
    price_files: Sequence[Path],
    questionnaire: Questionnaire | None,
    questionnaire_problem: str | None = None,
    policy: SelectionPolicy | None = None,
    tenant_policy: TenantPolicy | None = None,
    lifecycle: LifecyclePolicy | None = None,
    now: datetime,
) -> ReportData:
    """Everything the report shows for ``month``; a month with nothing in it is refused."""
    m = parse_month(month)
    with session_scope(engine) as session:
        if not month_has_data(session, m):
            raise InputError(
                [
                    Problem(
                        "report",
                        "month",
                        str(m),
                        "no data for this month (no pilot, usage, invoice or capacity snapshot "
                        "in it); choose a month of the pilot",
                    )
                ]
            )
        decision = _decision(session)
        coverage, unknown = _coverage(session, policy, decision.selected if decision else ())
        pilots = _pilots(session, lifecycle)
        pending = _pending(session, now)
        usage = _usage(session, m)
        invoices = tuple(
            Cost(d.pilot_id, d.list_total, d.discount_total, d.charged_total, d.revision)
            for d in billing.invoices(session, str(m))
        )
        capacity = _capacity(session, m)
        evaluation = comments = None
        if questionnaire is not None:
            evaluation = evaluation_results.summary(session, questionnaire)
            comments = {a.id: [] for a in questionnaire.areas}
            for p in pilots:
                answers = evaluation_results.pilot_answers(session, questionnaire, p.pilot_id)
                for area, given in answers["comments"].items():
                    comments[area].extend({"pilot": p.pilot_id, **c} for c in given)
        support = support_log.stats(session, m)
        sizes = {t.pilot_id: t.size for t in session.exec(select(Tenant)).all()}
    candidates = _candidates(engine, m, prices, price_files)
    risks = report_risks.risks(pilots, usage, sizes, tenant_policy, m)
    return ReportData(
        str(m),
        now,
        decision,
        coverage,
        unknown,
        pilots,
        usage,
        prices.currency,
        invoices,
        candidates,
        capacity,
        evaluation,
        comments or {},
        questionnaire_problem,
        support,
        risks,
        pending,
    )
