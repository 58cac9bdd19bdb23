"""Metering split between replicas: a cycle's windows cut into (window, tenant shard) items.

What a per-tenant claim means for metering: the cloud answers one window's
usage for a *list* of projects in one call (Nova's all-projects listing,
filtered), so one claim per (tenant, window) would turn one call per window
into one per tenant.  An item is therefore one window and a shard of up to
``service.tenants_per_item`` tenants (consecutive by pilot id): each
(tenant, window) pair is in exactly one item, an item costs one usage call,
and 1,000 tenants in one window are ten items two replicas can share.

Planning is :func:`ngc_pilot.metering.auto_plan` unchanged (done once per
fire time, by whoever runs the ``meter`` job); each item's records are
upserted by :func:`ngc_pilot.metering.store_records` in the same transaction
that marks the item done (:func:`ngc_pilot.claims.complete`), so a killed
replica's item is redone by another and never counted twice.  The replica
that completes a cycle's last item writes its ``MeterWindow`` rows and the
one ``usage.metered`` audit event.  Not here: the claim mechanics
(:mod:`ngc_pilot.claims`), the window arithmetic and the cloud calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from ngc_pilot import audit, claims, metering
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.settings import MeteringSettings
from policies import windows as W

JOB = "meter"


def plan(
    prov: Provisioner, settings: MeteringSettings, tenants_per_item: int, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The cycle's plan (windows, counts) and its items' payloads."""
    with session_scope(prov.engine) as session:
        tenants = metering.metered_tenants(session)
        cycle = metering.auto_plan(session, settings, now, tenants)
    windows = metering.window_kinds(cycle, now, settings)
    payloads = []
    for window, described in zip(cycle.windows, windows, strict=True):
        present = sorted((t for t in tenants if t.in_window(window)), key=lambda t: t.pilot_id)
        for i in range(0, len(present), tenants_per_item):
            payloads.append(
                {
                    "window": described,
                    "tenants": [
                        [
                            t.pilot_id,
                            t.project_id,
                            t.platform,
                            t.since.isoformat(),
                            t.until.isoformat() if t.until else None,
                        ]
                        for t in present[i : i + tenants_per_item]
                    ],  # fmt: skip
                }
            )
    summary = {
        "windows": windows,
        "backfilled": cycle.backfilled,
        "recomputed": len(cycle.recompute),
        "remaining": cycle.remaining,
    }
    return summary, payloads


def _window(described: dict[str, str]) -> W.Window:
    return W.Window(
        datetime.fromisoformat(described["start"]), datetime.fromisoformat(described["end"])
    )


def handle(
    prov: Provisioner, claim: claims.Claim, still_held: Callable[[], bool] | None = None
) -> None:
    """Meter one item: read its window for its tenants, store, mark done — or nothing.

    ``still_held`` is not asked: the one usage call only reads, and
    :func:`ngc_pilot.claims.complete` rolls the writes back if the claim is lost.
    """
    window = _window(claim.payload["window"])
    tenants = [
        metering.MeteredTenant(
            pilot, project, datetime.fromisoformat(since),
            datetime.fromisoformat(until) if until else None, platform,
        )
        for pilot, project, platform, since, until in claim.payload["tenants"]
    ]  # fmt: skip
    report = metering.MeterReport()
    readings = metering.read_usage(prov, [window], tenants, report)  # no transaction open
    reading = readings[0][1]
    with session_scope(prov.engine) as session:
        metering.store_records(session, readings, [window], report)
        result = {
            "window_start": window.start.isoformat(),
            "pilots": sorted({pilot for pilot, _ in reading}),
            "records": len(reading),
            "records_new": report.records_new,
            "records_changed": report.records_changed,
            "records_unchanged": report.records_unchanged,
            "totals": {m: str(q) for m, q in report.totals.items()},
            "cloud_seconds": round(report.cloud_seconds, 3),
        }
        if claims.complete(session, claim, result):
            finish(session, prov, claim.cycle_id)


def finish(session: Session, prov: Provisioner, cycle_id: int) -> dict[str, Any]:
    """The cycle's windows covered and its audit event (once, by the last item's replica)."""
    summary = report_of(session, cycle_id)
    cycle = claims.cycle(session, cycle_id)
    per_window: dict[str, tuple[set[str], int]] = {}
    for _, result in claims.results(session, cycle_id):
        pilots, records = per_window.setdefault(result["window_start"], (set(), 0))
        pilots.update(result["pilots"])
        per_window[result["window_start"]] = (pilots, records + result["records"])
    metered_at = utcnow()
    rows = []
    for described in cycle.plan["windows"]:
        window = _window(described)
        pilots, records = per_window.get(window.start.isoformat(), (set(), 0))
        rows.append(
            {
                "window_start": window.start,
                "window_end": window.end,
                "metered_at": metered_at,
                "tenants": len(pilots),
                "records": records,
                "runs": 1,
            }
        )
    if rows:
        metering.upsert_windows(session, rows)
        details = {k: v for k, v in summary.items() if k not in ("cloud_seconds", "windows")}
        audit.record(
            session, actor=prov.actor, action="usage.metered", subject="metering", details=details
        )
    return summary


def report_of(session: Session, cycle_id: int) -> dict[str, Any]:
    """What the cycle did so far, shaped like ``MeterReport.summary()`` plus who did what."""
    cycle = claims.cycle(session, cycle_id)
    report = metering.MeterReport(
        windows=list(cycle.plan.get("windows", [])),
        backfilled=cycle.plan.get("backfilled", 0),
        recomputed=cycle.plan.get("recomputed", 0),
        remaining=cycle.plan.get("remaining", 0),
    )
    pilots: set[str] = set()
    by_replica: Counter[str] = Counter()
    totals: dict[str, Decimal] = {}
    for done_by, result in claims.results(session, cycle_id):
        if result.get("abandoned"):
            continue
        by_replica[done_by or "?"] += 1
        pilots.update(result["pilots"])
        report.records_new += result["records_new"]
        report.records_changed += result["records_changed"]
        report.records_unchanged += result["records_unchanged"]
        report.cloud_seconds += result.get("cloud_seconds", 0.0)
        for metric, quantity in result["totals"].items():
            totals[metric] = totals.get(metric, Decimal(0)) + Decimal(quantity)
    report.tenants = len(pilots)
    report.totals = totals
    out = report.summary()
    out.pop("seconds", None)
    out.update(items=cycle.items_total, items_by_replica=dict(by_replica))
    return out
