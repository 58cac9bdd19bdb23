"""Metering: the cloud's usage of every tenant, per window, into ``UsageRecord``.

One cycle (:func:`meter`) decides the windows (``policies.windows``: every
complete window not covered yet, oldest first and capped, plus the newest
covered ones again for late data), reads each window's usage from the
backend's :class:`provisioner.backend.UsageReader` with no transaction open,
then writes in one transaction: the records, upserted by (pilot, metric,
window start) so a re-run overwrites and never adds; the windows covered
(``MeterWindow``); one audit event.  A cloud failure writes nothing.

Decisions kept here:

* **Zero rows are stored.**  Every tenant metered in a window gets one record
  per metric, zero included: "metered, nothing used" is a row, "not metered"
  is no row, and a recompute that finds less simply overwrites.
* **Which tenants.**  Every tenant with a project id that can hold running
  servers (provisioning, active, failed, suspended), from the window its row
  was created in; a torn-down tenant for the windows before its teardown.
* **Cinder quantities are never lowered** on recompute: Cinder lists no
  deleted volume, so a lower reading of a past window means a volume has
  gone, not that it was not there (``provisioner.usage.BLIND_TO_DELETED``).
* Quantities are rounded to the column's 6 decimals, half to even.
* **Namespace tenants** (``kube_tenant``) are metered by the same rule, read
  from the Kubernetes backend (pod requests integrated over each pod's run);
  the key has no platform, so a pilot's namespace usage is added to its
  OpenStack row of the same metric (source ``nova+kubernetes``) and priced by
  the same price list.  Without a configured cluster they are not read.
* A tenant re-provisioned after a teardown keeps its pilot id with a new
  project; windows metered before are not rewritten unless asked for with
  an explicit span (which would then read the new project).

:func:`usage_summary` is the read side the CLI, the TUI and the invoices share.

Why it is one module of over 400 lines: planning the windows, reading them
and storing them are one cycle whose correctness rests on their agreeing —
which tenants are metered from which window, the upsert keys that make a
re-run overwrite instead of add, the never-lowered Cinder quantities, and the
``MeterWindow`` rows that the next plan starts from.  Split, each half would
have to restate the other's rules.  The read side is small and shares the
tenant rule.  Deliberately not here: the window arithmetic
(``policies/windows.py``) and the cloud calls (``provisioner/usage.py``).
The scheduled job splits the same cycle between ``serve`` replicas
(:mod:`ngc_pilot.meter_shards`) through this module's public pieces:
``auto_plan``, ``window_kinds``, ``read_usage``, ``store_records``,
``upsert_windows``; ``ngc-pilot meter`` runs :func:`meter` in one process.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import exists, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, PermanentError
from ngc_pilot.kube_tenant_models import PLATFORM, KubeTenant
from ngc_pilot.models import MeterWindow, Tenant, UsageRecord
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.settings import MeteringSettings
from ngc_pilot.usage_upsert import dialect_insert, upsert_records
from policies import windows as W
from policies.problems import Problem
from provisioner.backend import UsageReader
from provisioner.usage import BLIND_TO_DELETED, METRICS, UsageSample

# The fields of an explicit span, as problems name them (an interface words
# them as its own: the CLI's --since and --until).
SPAN, SINCE, UNTIL = "metering span", "span start", "span end"
METERED_STATES = ("provisioning", "active", "failed", "suspended")
SCALE = Decimal("0.000001")  # UsageRecord.quantity is Numeric(20, 6)
_CHUNK = 5000  # parameter sets per execute()


def quantize(value: Decimal) -> Decimal:
    return value.quantize(SCALE, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class MeteredTenant:
    pilot_id: str
    project_id: str
    since: datetime  # the tenant row's creation
    until: datetime | None  # teardown, for torn-down tenants
    platform: str = "openstack"  # kubernetes: project_id is the namespace

    def in_window(self, window: W.Window) -> bool:
        return self.since < window.end and (self.until is None or self.until > window.start)


@dataclass
class MeterReport:
    """What one cycle did; ``as_dict`` for ``--json``, the audit log and the scheduler."""

    windows: list[dict[str, str]] = field(default_factory=list)  # start, end, kind
    backfilled: int = 0
    recomputed: int = 0
    remaining: int = 0  # missed windows left for later cycles (backfill cap)
    tenants: int = 0
    records_new: int = 0
    records_changed: int = 0
    records_unchanged: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    cloud_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def records_written(self) -> int:
        return self.records_new + self.records_changed

    def summary(self) -> dict[str, Any]:
        out = self.as_dict()
        out.pop("windows")
        if self.windows:
            out["from"] = self.windows[0]["start"]
            out["until"] = self.windows[-1]["end"]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "windows_metered": len(self.windows),
            "new": sum(1 for w in self.windows if w["kind"] != "recompute"),
            "backfilled": self.backfilled,
            "recomputed": self.recomputed,
            "remaining": self.remaining,
            "tenants": self.tenants,
            "records_new": self.records_new,
            "records_changed": self.records_changed,
            "records_unchanged": self.records_unchanged,
            "records_written": self.records_written,
            "totals": {m: str(q) for m, q in self.totals.items()},
            "cloud_seconds": round(self.cloud_seconds, 3),
            "seconds": round(self.seconds, 3),
        }


# ------------------------------------------------------------------- planning


def _settings_problem(metering: MeteringSettings, exc: W.WindowError) -> InputError:
    return InputError(
        [Problem("settings", "metering.window_minutes", metering.window_minutes, str(exc))]
    )


def metered_tenants(session: Session) -> list[MeteredTenant]:
    """Tenants whose projects are metered, with the span they are metered for."""
    out = []
    for tenant in session.exec(
        select(Tenant).where(col(Tenant.project_id).is_not(None)).order_by(col(Tenant.pilot_id))
    ).all():
        if tenant.state in METERED_STATES:
            out.append(MeteredTenant(tenant.pilot_id, tenant.project_id, tenant.created_at, None))
        elif tenant.state == "torn_down":
            # teardown is the tenant's last change (updated_at)
            out.append(
                MeteredTenant(
                    tenant.pilot_id, tenant.project_id, tenant.created_at, tenant.updated_at
                )
            )
    # Namespace tenants: the same span rule; their rows are added to the
    # pilot's OpenStack rows of the same metric (one usage row per pilot).
    for row in session.exec(select(KubeTenant).order_by(col(KubeTenant.pilot_id))).all():
        if row.state in METERED_STATES or row.state == "torn_down":
            until = row.updated_at if row.state == "torn_down" else None
            out.append(MeteredTenant(row.pilot_id, row.namespace, row.created_at, until, PLATFORM))
    return out


def _frontier(session: Session) -> datetime | None:
    """The end of the first covered window that no covered window follows."""
    after = aliased(MeterWindow)
    successor = exists().where(col(after.window_start) == col(MeterWindow.window_end))
    return session.exec(select(func.min(col(MeterWindow.window_end))).where(~successor)).one()


def auto_plan(
    session: Session, metering: MeteringSettings, now: datetime, tenants: Sequence[MeteredTenant]
) -> W.CyclePlan:
    frontier = _frontier(session)
    covered: list[datetime] = []
    if frontier is not None:
        covered = list(
            session.exec(
                select(MeterWindow.window_start).where(col(MeterWindow.window_start) >= frontier)
            ).all()
        )
    newest: list[W.Window] = []
    if metering.recompute_windows:
        rows = session.exec(
            select(MeterWindow)
            .order_by(col(MeterWindow.window_start).desc())
            .limit(metering.recompute_windows)
        ).all()
        newest = sorted(W.Window(r.window_start, r.window_end) for r in rows)
    anchor = min((t.since for t in tenants), default=None)
    return W.plan_cycle(
        now,
        metering.window_minutes,
        frontier=frontier,
        covered=covered,
        newest=newest,
        anchor=anchor,
        backfill_max=metering.backfill_max_windows,
        recompute=metering.recompute_windows,
    )


def _explicit_plan(
    session: Session,
    metering: MeteringSettings,
    now: datetime,
    since: datetime,
    until: datetime | None,
) -> W.CyclePlan:
    try:
        wanted = W.explicit(
            since, until, now, metering.window_minutes, limit=metering.backfill_max_windows
        )
    except W.WindowError as exc:
        field_name, value = (UNTIL, until) if exc.bound == "end" and until else (SINCE, since)
        raise InputError([Problem(SPAN, field_name, value.isoformat(), str(exc))]) from exc
    if not wanted:
        return W.CyclePlan((), (), 0, 0)
    rows = session.exec(
        select(MeterWindow).where(
            col(MeterWindow.window_start) < wanted[-1].end,
            col(MeterWindow.window_end) > wanted[0].start,
        )
    ).all()
    bounds = {(w.start, w.end) for w in wanted}
    odd = [r for r in rows if (r.window_start, r.window_end) not in bounds]
    if odd:
        raise InputError(
            [
                Problem(
                    "settings",
                    "metering.window_minutes",
                    metering.window_minutes,
                    f"windows of another length are already metered in this span (e.g. "
                    f"{odd[0].window_start.isoformat()}..{odd[0].window_end.isoformat()}); "
                    "re-metering them with this length would count usage twice",
                )
            ]
        )
    done = {r.window_start for r in rows}
    end = W.last_complete_end(now, metering.window_minutes)
    new = tuple(w for w in wanted if w.start not in done)
    return W.CyclePlan(
        new=new,
        recompute=tuple(w for w in wanted if w.start in done),
        backfilled=sum(1 for w in new if w.end != end),
        remaining=0,
    )


# -------------------------------------------------------------------- metering


def meter(
    prov: Provisioner,
    metering: MeteringSettings,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> MeterReport:
    """One metering cycle; see the module docstring.  ``since``/``until`` meter
    exactly the complete windows touching that span instead."""
    started = time.perf_counter()
    now = now or utcnow()
    try:
        W.check_length(metering.window_minutes)
    except W.WindowError as exc:
        raise _settings_problem(metering, exc) from exc
    if until is not None and since is None:
        raise InputError([Problem(SPAN, UNTIL, until.isoformat(), f"a {UNTIL} needs a {SINCE}")])
    with session_scope(prov.engine) as session:
        tenants = metered_tenants(session)
        if since is not None:
            plan = _explicit_plan(session, metering, now, since, until)
        else:
            plan = auto_plan(session, metering, now, tenants)
    report = MeterReport(
        backfilled=plan.backfilled, recomputed=len(plan.recompute), remaining=plan.remaining
    )
    if not plan.windows:
        report.seconds = time.perf_counter() - started
        return report

    report.windows.extend(window_kinds(plan, now, metering))

    readings = read_usage(prov, plan.windows, tenants, report)
    with session_scope(prov.engine) as session:
        _store(session, readings, plan.windows, report)
        audit.record(
            session,
            actor=prov.actor,
            action="usage.metered",
            subject="metering",
            details=audit_details(report),
        )
    report.seconds = time.perf_counter() - started
    return report


def window_kinds(
    plan: W.CyclePlan, now: datetime, metering: MeteringSettings
) -> list[dict[str, str]]:
    """Each planned window with its kind: ``new``, ``backfill`` or ``recompute``."""
    recomputed = set(plan.recompute)
    just_ended = W.last_complete_end(now, metering.window_minutes)
    out = []
    for window in plan.windows:
        if window in recomputed:
            kind = "recompute"
        else:
            kind = "new" if window.end == just_ended else "backfill"
        out.append({**window.as_dict(), "kind": kind})
    return out


def _reader(prov: Provisioner) -> UsageReader:
    backend = prov.backend_factory()
    if not isinstance(backend, UsageReader):
        raise PermanentError(
            f"the cloud backend {type(backend).__name__} cannot read usage; metering needs "
            "an OpenStack backend"
        )
    return backend


Reading = dict[tuple[str, str], tuple[Decimal, str]]  # (pilot, metric) -> (quantity, source)


def read_usage(
    prov: Provisioner,
    windows: Sequence[W.Window],
    tenants: Sequence[MeteredTenant],
    report: MeterReport,
) -> list[tuple[W.Window, Reading]]:
    """Every window's usage, per tenant and metric (no database transaction open)."""
    started = time.perf_counter()
    reader: UsageReader | None = None
    kube: Any = None  # the Kubernetes backend, opened when a namespace is metered
    out = []
    seen: set[str] = set()
    for window in windows:
        present = [t for t in tenants if t.in_window(window)]
        reading: Reading = {}
        on_openstack = [t for t in present if t.platform != PLATFORM]
        if on_openstack:
            reader = reader or _reader(prov)
            by_project = {t.project_id: t.pilot_id for t in on_openstack}
            samples: list[UsageSample] = reader.usage(list(by_project), window.start, window.end)
            for sample in samples:
                pilot = by_project.get(sample.project_id)
                if pilot is not None:
                    reading[(pilot, sample.metric)] = (quantize(sample.quantity), sample.source)
            seen.update(by_project.values())
        namespaces = [t for t in present if t.platform == PLATFORM]
        if namespaces and prov.kube_backend_factory is not None:
            kube = kube or prov.kube_backend_factory()
            by_namespace = {t.project_id: t.pilot_id for t in namespaces}
            for sample in kube.usage(list(by_namespace), window.start, window.end):
                pilot = by_namespace.get(sample.project_id)
                if pilot is not None:
                    add_sample(reading, pilot, sample)
            seen.update(by_namespace.values())
        out.append((window, reading))
    if kube is not None:
        kube.close()
    report.tenants = len(seen)
    report.cloud_seconds = time.perf_counter() - started
    return out


def add_sample(reading: Reading, pilot: str, sample: UsageSample) -> None:
    """Add a namespace's sample to the pilot's row of that metric (its source then names both)."""
    quantity = quantize(sample.quantity)
    if (pilot, sample.metric) in reading:
        before, source = reading[(pilot, sample.metric)]
        reading[(pilot, sample.metric)] = (before + quantity, f"{source}+{sample.source}")
    else:
        reading[(pilot, sample.metric)] = (quantity, sample.source)


def _store(
    session: Session,
    readings: Sequence[tuple[W.Window, Reading]],
    windows: Sequence[W.Window],
    report: MeterReport,
) -> None:
    """Upsert what differs from the stored records, and the covered windows."""
    collected = store_records(session, readings, windows, report)
    upsert_windows(
        session,
        [
            {
                "window_start": window.start,
                "window_end": window.end,
                "metered_at": collected,
                "tenants": len({pilot for pilot, _ in reading}),
                "records": len(reading),
                "runs": 1,
            }
            for window, reading in readings
        ],
    )


def store_records(
    session: Session,
    readings: Sequence[tuple[W.Window, Reading]],
    windows: Sequence[W.Window],
    report: MeterReport,
) -> datetime:
    """Upsert what differs from the stored records (not the windows); returns the collection time."""
    collected = utcnow()
    pilots = sorted({pilot for _, reading in readings for pilot, _ in reading})
    stored: dict[tuple[str, str, datetime], Decimal] = {}
    if pilots:
        for pilot, metric, start, quantity in session.exec(
            select(
                UsageRecord.pilot_id,
                UsageRecord.metric,
                UsageRecord.window_start,
                UsageRecord.quantity,
            ).where(
                col(UsageRecord.window_start) >= windows[0].start,
                col(UsageRecord.window_start) <= windows[-1].start,
                col(UsageRecord.pilot_id).in_(pilots),
            )
        ).all():
            stored[(pilot, metric, start)] = quantize(Decimal(quantity))
    rows: list[dict[str, Any]] = []
    totals = {m: Decimal(0) for m in METRICS}
    for window, reading in readings:
        for (pilot, metric), (quantity, source) in sorted(reading.items()):
            before = stored.get((pilot, metric, window.start))
            if before is not None and source in BLIND_TO_DELETED and before > quantity:
                quantity = before
            totals[metric] = totals.get(metric, Decimal(0)) + quantity
            if before is None:
                report.records_new += 1
            elif before != quantity:
                report.records_changed += 1
            else:
                report.records_unchanged += 1
                continue
            rows.append(
                {
                    "pilot_id": pilot,
                    "metric": metric,
                    "window_start": window.start,
                    "window_end": window.end,
                    "quantity": quantity,
                    "source": source,
                    "collected_at": collected,
                }
            )
    report.totals = totals
    upsert_records(session, rows)
    return collected


def upsert_windows(session: Session, rows: list[dict[str, Any]]) -> None:
    table = MeterWindow.__table__
    stmt = dialect_insert(session)(table)
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["window_start"],
        set_={
            "window_end": new.window_end,
            "metered_at": new.metered_at,
            "tenants": new.tenants,
            "records": new.records,
            "runs": table.c.runs + 1,
        },
    )
    for i in range(0, len(rows), _CHUNK):
        session.execute(stmt, rows[i : i + _CHUNK])


def audit_details(report: MeterReport) -> dict[str, Any]:
    details = report.summary()
    details.pop("seconds", None)
    details.pop("cloud_seconds", None)
    return details


# ---------------------------------------------------------------------- reading


def usage_summary(
    session: Session,
    *,
    pilot_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Stored usage per tenant and metric over windows starting in ``[since, until)``.

    One row per (pilot, metric) with the total quantity (exact ``Decimal``,
    6 places), its unit, how many windows hold records, and the span covered.
    """
    query = select(
        UsageRecord.pilot_id,
        UsageRecord.metric,
        func.sum(UsageRecord.quantity),
        func.count(),
        func.min(UsageRecord.window_start),
        func.max(UsageRecord.window_end),
    ).group_by(col(UsageRecord.pilot_id), col(UsageRecord.metric))
    if pilot_id is not None:
        query = query.where(UsageRecord.pilot_id == pilot_id)
    if since is not None:
        query = query.where(col(UsageRecord.window_start) >= W.utc(since))
    if until is not None:
        query = query.where(col(UsageRecord.window_start) < W.utc(until))
    order = {m: i for i, m in enumerate(METRICS)}
    rows = []
    for pilot, metric, total, windows, first, last in session.exec(query).all():
        rows.append(
            {
                "pilot": pilot,
                "metric": metric,
                "quantity": quantize(Decimal(str(total or 0))),
                "unit": METRICS.get(metric, ""),
                "windows": windows,
                "from": first.isoformat() if first else None,
                "until": last.isoformat() if last else None,
            }
        )
    return sorted(rows, key=lambda r: (r["pilot"], order.get(r["metric"], 99)))
