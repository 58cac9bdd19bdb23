"""Onboarding milestones per pilot, derived from what the database already records.

Why this exists: the steering group follows each pilot's way in — tenant
active, first server (or pod), first metered use, data access granted — and
those moments are already evidenced elsewhere: the audit log (``tenant.active``,
``tenant.data_access_granted``), usage records, the tenant row.
:func:`record_milestones` looks at that evidence and records each milestone
once per pilot with the time it first happened (the earliest evidence), so it
can run as often as anyone likes: a second run changes nothing.  If earlier
evidence turns up later (a metering backfill of an earlier window), the
milestone moves to the earlier time, audited as a correction.

Evidence, per milestone:

* ``tenant_active`` — the first ``tenant.active`` audit event; for a tenant
  that is active without one, its row's last update.
* ``first_server`` — the first usage window with vCPU-hours (a server in Nova
  or a pod in Kubernetes was running; the source says which).
* ``first_metered_use`` — the first usage window with any usage.
* ``data_access_granted`` — the first ``tenant.data_access_granted`` audit
  event or the tenant's ``data_access_granted_at``, whichever is earlier.

Deliberately not here: provisioning or metering anything, and deciding what
counts as late (the report does that from the dates).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.errors import NotFoundError
from ngc_pilot.evaluation_models import Milestone
from ngc_pilot.models import AuditEvent, Pilot, Tenant, UsageRecord
from policies.problems import Problem

KINDS: tuple[str, ...] = (
    "tenant_active",
    "first_server",
    "first_metered_use",
    "data_access_granted",
)

Evidence = dict[tuple[str, str], tuple[datetime, str]]


def _keep_earliest(found: Evidence, pilot_id: str, kind: str, at: datetime, why: str) -> None:
    current = found.get((pilot_id, kind))
    if current is None or at < current[0]:
        found[(pilot_id, kind)] = (at, why)


def _first_audit(session: Session, action: str) -> list[tuple[str, datetime]]:
    query = (
        select(AuditEvent.subject, func.min(AuditEvent.at))
        .where(AuditEvent.action == action)
        .group_by(col(AuditEvent.subject))
    )
    return list(session.exec(query).all())


def _first_usage(session: Session, metric: str | None) -> list[tuple[str, str, datetime]]:
    """(pilot, source, first window start) of the first window with usage, per pilot."""
    used = col(UsageRecord.quantity) > 0
    if metric is not None:
        used = used & (col(UsageRecord.metric) == metric)
    first = (
        select(UsageRecord.pilot_id, func.min(UsageRecord.window_start).label("first"))
        .where(used)
        .group_by(col(UsageRecord.pilot_id))
        .subquery()
    )
    query = (
        select(UsageRecord.pilot_id, UsageRecord.source, UsageRecord.window_start)
        .join(
            first,
            (col(UsageRecord.pilot_id) == first.c.pilot_id)
            & (col(UsageRecord.window_start) == first.c.first),
        )
        .where(used)
        .order_by(col(UsageRecord.pilot_id), col(UsageRecord.source))
    )
    return list(session.exec(query).all())


def evidence(session: Session) -> Evidence:
    """The earliest evidence of every milestone of every pilot, with what it is."""
    pilots = set(session.exec(select(Pilot.id)).all())
    found: Evidence = {}
    for pilot_id, at in _first_audit(session, "tenant.active"):
        _keep_earliest(found, pilot_id, "tenant_active", at, "audit: tenant.active")
    for pilot_id, at in _first_audit(session, "tenant.data_access_granted"):
        _keep_earliest(
            found, pilot_id, "data_access_granted", at, "audit: tenant.data_access_granted"
        )
    for tenant in session.exec(select(Tenant)).all():
        if tenant.state == "active" and (tenant.pilot_id, "tenant_active") not in found:
            _keep_earliest(
                found, tenant.pilot_id, "tenant_active", tenant.updated_at, "tenant state active"
            )
        if tenant.data_access_granted_at is not None:
            _keep_earliest(
                found,
                tenant.pilot_id,
                "data_access_granted",
                tenant.data_access_granted_at,
                "tenant: data_access_granted_at",
            )
    for pilot_id, source, start in _first_usage(session, "vcpu_hours"):
        thing = "pod" if source == "kubernetes" else "server"
        why = f"usage: first vCPU-hours ({thing}, {source})"
        _keep_earliest(found, pilot_id, "first_server", start, why)
    for pilot_id, source, start in _first_usage(session, None):
        _keep_earliest(found, pilot_id, "first_metered_use", start, f"usage: first {source} usage")
    return {key: value for key, value in found.items() if key[0] in pilots}


def record_milestones(
    session: Session, now: datetime, *, actor: str = "ngc-pilot"
) -> list[Milestone]:
    """Record every milestone evidenced by ``now`` that is not recorded yet; return the changes.

    Idempotent: each (pilot, milestone) is one row; a second run with no new
    evidence changes nothing.  Earlier evidence than recorded moves the time
    back (audited ``milestone.corrected``).
    """
    recorded = {(m.pilot_id, m.kind): m for m in session.exec(select(Milestone)).all()}
    changed: list[Milestone] = []
    for (pilot_id, kind), (at, why) in sorted(evidence(session).items()):
        if at > now:
            continue
        existing = recorded.get((pilot_id, kind))
        if existing is None:
            milestone = Milestone(
                pilot_id=pilot_id, kind=kind, reached_at=at, evidence=why, recorded_at=now
            )
            action, details = "milestone.reached", {"kind": kind, "at": at.isoformat()}
        elif at < existing.reached_at:
            milestone = existing
            details = {"kind": kind, "at": at.isoformat(), "was": existing.reached_at.isoformat()}
            milestone.reached_at, milestone.evidence, milestone.recorded_at = at, why, now
            action = "milestone.corrected"
        else:
            continue
        session.add(milestone)
        audit.record(
            session,
            actor=actor,
            action=action,
            subject=pilot_id,
            details={**details, "evidence": why},
        )
        changed.append(milestone)
    session.flush()
    return changed


def as_dict(milestone: Milestone) -> dict[str, Any]:
    return {
        "pilot": milestone.pilot_id,
        "kind": milestone.kind,
        "reached_at": milestone.reached_at.isoformat(),
        "evidence": milestone.evidence,
        "recorded_at": milestone.recorded_at.isoformat(),
    }


def milestones(session: Session, pilot_id: str | None = None) -> Sequence[Milestone]:
    """Recorded milestones, per pilot in the order of :data:`KINDS`."""
    query = select(Milestone)
    if pilot_id is not None:
        if session.get(Pilot, pilot_id) is None:
            raise NotFoundError([Problem("milestones", "pilot", pilot_id, "no such pilot")])
        query = query.where(Milestone.pilot_id == pilot_id)
    rows = session.exec(query).all()
    return sorted(rows, key=lambda m: (m.pilot_id, KINDS.index(m.kind)))
