"""The lifecycle of namespace tenants: drift, suspension and teardown after the grace period.

Why this exists: :mod:`.drift` and :mod:`.expiry` read the OpenStack ``tenant``
rows; a pilot's namespace tenant (``kube_tenant``) follows the same rules of
``policies/lifecycle.yaml`` here, and both entry points (:func:`reconcile`,
:func:`expire`) add these results to their reports:

* drift: each active or suspended namespace is observed and planned; the
  plan's changes are the drift (a deleted or loosened NetworkPolicy, a
  changed quota, an extra RoleBinding, a missing object).  It is audited as
  ``tenant.drift`` (details ``platform: kubernetes``) when it changes and
  repaired through :func:`ngc_pilot.namespace_tenants.run_namespace` when the
  policy's ``reconcile.repair`` (or ``--repair``) says so;
* suspension, the day after the last day: ``suspended_at`` is recorded and
  audited, then the quota goes to zero (see ``ngc_pilot.namespace_tenants``; teardown in ``ngc_pilot.namespace_teardown``);
* after the grace period: the namespace is torn down.

What this module deliberately does not do: notices and the final invoice —
they are per pilot: the OpenStack rules make them for a pilot with an OpenStack
tenant, and :mod:`.expiry` for one with only a namespace (:func:`namespace_only`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlmodel import col, select

from ngc_pilot import audit, namespace_teardown, namespace_tenants
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.kube_tenant_models import PLATFORM, KubeTenant
from ngc_pilot.lifecycle.shared import reason, when
from ngc_pilot.models import AuditEvent, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from policies import lifecycle as rules
from provisioner.backend import CloudError
from provisioner.kubernetes.plan import plan

RECONCILED = ("active", "suspended")
EXPIRING = ("active", "suspended", "failed")


def _rows(prov: Provisioner, states: tuple[str, ...]) -> list[tuple[str, str, date]]:
    with session_scope(prov.engine) as session:
        return [
            (row.pilot_id, row.state, session.get(Pilot, row.pilot_id).planned_end)
            for row in session.exec(
                select(KubeTenant)
                .where(col(KubeTenant.state).in_(states))
                .order_by(col(KubeTenant.pilot_id))
            ).all()
        ]


def drift(prov: Provisioner, repair: bool) -> list[dict[str, Any]]:
    """Each active or suspended namespace tenant's drift (``TenantDrift``-shaped dicts)."""
    if prov.kube_backend_factory is None:
        return []
    rows = _rows(prov, RECONCILED)
    if not rows:
        return []
    out = []
    backend = prov.kube_backend_factory()
    try:
        for pilot_id, state, _ in rows:
            entry: dict[str, Any] = {
                "pilot": pilot_id,
                "platform": PLATFORM,
                "state": state,
                "drift": [],
                "repaired": False,
                "applied": [],
                "error": None,
            }
            out.append(entry)
            with session_scope(prov.engine) as session:
                row = session.get(KubeTenant, pilot_id)
                desired = namespace_tenants.desired_for(session, prov, row)
                delivered = namespace_tenants.token_delivered(prov, row)
                tokens = namespace_tenants.member_tokens_missing(session, prov, row, desired)
            try:
                observed = backend.observe(desired)
            except CloudError as exc:
                entry["error"] = str(exc)
                continue
            entry["drift"] = [
                c.as_dict()
                for c in plan(
                    desired, observed, credential_delivered=delivered, member_tokens=tokens
                ).changes
            ]
            _record(prov, pilot_id, entry["drift"], repair)
            if not entry["drift"] or not repair:
                continue
            outcome = namespace_tenants.run_namespace(prov, pilot_id, backend)
            result = outcome.report
            entry["applied"] = list(result.done) if result else []
            entry["repaired"] = bool(result and result.ok)
            entry["error"] = None if entry["repaired"] else (result.error if result else "")
            if entry["repaired"]:
                with session_scope(prov.engine) as session:
                    audit.record(
                        session,
                        actor=prov.actor,
                        action="tenant.repaired",
                        subject=pilot_id,
                        details={
                            "platform": PLATFORM,
                            "drift": entry["drift"],
                            "applied": entry["applied"],
                        },
                    )
    finally:
        backend.close()
    return out


def _record(prov: Provisioner, pilot_id: str, found: list[dict[str, Any]], repair: bool) -> None:
    """Audit ``tenant.drift`` (platform kubernetes) when it differs from what was last known."""
    with session_scope(prov.engine) as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.subject == pilot_id)
            .where(col(AuditEvent.action).in_(["tenant.drift", "tenant.repaired"]))
            .order_by(col(AuditEvent.id).desc())
        ).all()
        last = next((e for e in events if (e.details or {}).get("platform") == PLATFORM), None)
        known = [] if last is None or last.action == "tenant.repaired" else last.details["drift"]
        if json.dumps(known, sort_keys=True, default=str) == json.dumps(
            found, sort_keys=True, default=str
        ):
            return
        audit.record(
            session,
            actor=prov.actor,
            action="tenant.drift",
            subject=pilot_id,
            details={"platform": PLATFORM, "drift": found, "changes": len(found), "repair": repair},
        )


def namespace_only(prov: Provisioner) -> list[tuple[str, date, date]]:
    """Expiring namespace tenants whose pilot has no expiring OpenStack tenant:
    (pilot, the namespace's creation day, the pilot's last day).

    Their notices and final invoices are not made by the OpenStack rules, so the
    expiry makes them for these (``ngc_pilot.lifecycle.expiry``).
    """
    if prov.kube_backend_factory is None:
        return []
    with session_scope(prov.engine) as session:
        rows = session.exec(
            select(KubeTenant, Pilot)
            .join(Pilot, col(Pilot.id) == col(KubeTenant.pilot_id))
            .where(col(KubeTenant.state).in_(EXPIRING))
            .order_by(col(KubeTenant.pilot_id))
        ).all()
        return [
            (row.pilot_id, row.created_at.date(), pilot.planned_end)
            for row, pilot in rows
            if (tenant := session.get(Tenant, row.pilot_id)) is None or tenant.state not in EXPIRING
        ]


def expire(
    prov: Provisioner, day: date, given: bool, held: frozenset[str] = frozenset()
) -> tuple[int, list[dict[str, Any]]]:
    """The expiry rules for ``day`` on every namespace tenant: (tenants checked, steps).

    ``held``: pilots whose teardown waits (their final invoice failed).
    """
    if prov.kube_backend_factory is None:
        return 0, []
    rows = _rows(prov, EXPIRING)
    steps: list[dict[str, Any]] = []
    policy = prov.lifecycle()
    for pilot_id, state, last_day in rows:
        stage = rules.stage(policy, last_day, day)
        if stage == "running" or (stage == "suspend" and state == "suspended"):
            continue
        if stage == "finalise" and pilot_id in held:
            continue
        if stage == "suspend":
            steps.append(_suspend(prov, pilot_id, last_day, day, given))
            continue
        outcome = namespace_teardown.teardown(
            prov, pilot_id, reason=reason(day, given, "the grace period has passed")
        )
        data = outcome.as_dict()
        steps.append(
            {
                "pilot": pilot_id,
                "platform": PLATFORM,
                "action": "teardown",
                "ok": data["clean"],
                "error": data["error"] or (None if data["clean"] else str(data["leftovers"])),
            }
        )
    return len(rows), steps


def _suspend(
    prov: Provisioner, pilot_id: str, last_day: date, day: date, given: bool
) -> dict[str, Any]:
    """Record the suspension, then converge the namespace to its zero quota."""
    marks = rules.milestones(prov.lifecycle(), last_day)
    with session_scope(prov.engine) as session:
        row = session.get(KubeTenant, pilot_id)
        if row.suspended_at is None:
            row.suspended_at = row.updated_at = utcnow()
            session.add(row)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.suspend",
                subject=pilot_id,
                reason=reason(day, given, f"the pilot's last day was {last_day.isoformat()}"),
                details={"platform": PLATFORM, **marks.as_dict(), **when(day, given)},
            )
    backend = prov.kube_backend_factory()
    try:
        outcome = namespace_tenants.run_namespace(prov, pilot_id, backend)
    finally:
        backend.close()
    report = outcome.report
    return {
        "pilot": pilot_id,
        "platform": PLATFORM,
        "action": "suspend",
        "ok": outcome.state == "suspended",
        "error": report.error if report else None,
        "applied": list(report.done) if report else [],
        "teardown_on": str(marks.teardown_on),
    }
