"""Reconcile: every active or suspended tenant's drift, reported and (if asked) repaired.

Why this exists: a tenant's cloud can change behind ngc-pilot's back (quotas,
roles, security-group rules, deleted resources).  :func:`reconcile` observes
each tenant and plans it; the plan's changes *are* the drift.  Drift is audited
when it changes (so an hourly job does not repeat itself) and repaired only
when asked or when the lifecycle policy says so — through
:func:`ngc_pilot.tenant_runs.run_tenant`, so every step is in the ledger.  A tenant
whose names lead to another pilot's resource is marked ``failed`` (audited,
with the refusal as its error) and the loop goes on with the others.  It
deliberately changes no tenant's suspension or data access (the expiry and
data-access rules do).  A caller that holds the work only while a claim
lasts (a replica's shard) passes ``still_held``: it is asked before each
tenant, and once it says no the loop stops (``report.stopped``) — nothing more
is audited, repaired or marked failed by this run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from ngc_pilot import audit
from ngc_pilot.db import session_scope
from ngc_pilot.lifecycle import namespaces
from ngc_pilot.lifecycle.shared import LazyBackend, tenants_in
from ngc_pilot.models import AuditEvent
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import credential_delivered, run_tenant
from ngc_pilot.tenant_state import set_state
from provisioner.backend import CloudError, ForeignResourceError, observe_all
from provisioner.plan import plan

RECONCILED_STATES = ("active", "suspended")


@dataclass
class TenantDrift:
    pilot_id: str
    state: str
    drift: list[dict[str, Any]] = field(default_factory=list)
    repaired: bool = False
    applied: list[str] = field(default_factory=list)
    error: str | None = None
    platform: str = "openstack"

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "platform": self.platform,
            "state": self.state,
            "drift": self.drift,
            "repaired": self.repaired,
            "applied": self.applied,
            "error": self.error,
        }


@dataclass
class ReconcileReport:
    repair: bool
    tenants: list[TenantDrift] = field(default_factory=list)
    stopped: bool = False  # still_held said no: the tenants after these were not checked

    @property
    def failed(self) -> list[TenantDrift]:
        return [t for t in self.tenants if t.error]

    def as_dict(self) -> dict[str, Any]:
        return {
            "repair": self.repair,
            "tenants": [t.as_dict() for t in self.tenants],
            "checked": len(self.tenants),
            "drifted": sum(1 for t in self.tenants if t.drift),
            "repaired": sum(1 for t in self.tenants if t.repaired),
            "failed": len(self.failed),
        }


def reconcile(
    prov: Provisioner,
    *,
    repair: bool | None = None,
    pilots: Collection[str] | None = None,
    namespaces_too: bool = True,
    still_held: Callable[[], bool] | None = None,
) -> ReconcileReport:
    """Report every active or suspended tenant's drift; repair it if ``repair``
    (None: as the lifecycle policy says).  ``pilots`` limits the OpenStack
    tenants to those (a replica's shard); ``namespaces_too`` False leaves the
    namespace tenants out; ``still_held`` (asked before each tenant) stops the
    run once it returns False."""
    if repair is None:
        repair = prov.lifecycle().reconcile.repair
    report = ReconcileReport(repair)
    with session_scope(prov.engine) as session:
        rows = [
            (t.pilot_id, t.state, desired_for(t, p, a, prov), t.credential_id)
            for t, p, a in tenants_in(session, RECONCILED_STATES)
            if pilots is None or t.pilot_id in pilots
        ]
    backend = LazyBackend(prov)
    try:
        # One listing per resource kind for all tenants, not ~15 reads per tenant.
        snapshot = observe_all(backend.get(), [r[2] for r in rows]) if rows else []
    except CloudError as exc:
        snapshot = [exc] * len(rows)
    for (pilot_id, state, desired, credential_id), observed in zip(rows, snapshot, strict=True):
        if still_held is not None and not still_held():
            report.stopped = True
            return report
        entry = TenantDrift(pilot_id, state)
        report.tenants.append(entry)
        if isinstance(observed, CloudError):
            entry.error = str(observed)
            continue
        delivered = credential_delivered(prov, pilot_id, credential_id, observed.app_credential_id)
        try:
            the_plan = plan(desired, observed, credential_delivered=delivered)
        except ForeignResourceError as exc:
            # Another pilot's resource under this pilot's names: this tenant is
            # failed (a person must find out why), the others are still checked.
            entry.error = str(exc)
            set_state(prov, pilot_id, "failed", error=entry.error)
            continue
        entry.drift = [c.as_dict() for c in the_plan.changes]
        _record_drift(prov, pilot_id, entry.drift, repair)
        if not entry.drift or not repair:
            continue
        outcome = run_tenant(prov, pilot_id, None)
        result = outcome.report
        entry.applied = list(result.done) if result else []
        entry.repaired = bool(result and result.ok)
        entry.error = None if entry.repaired else (result.error if result else "not applied")
        if entry.repaired:
            with session_scope(prov.engine) as session:
                audit.record(
                    session,
                    actor=prov.actor,
                    action="tenant.repaired",
                    subject=pilot_id,
                    details={"drift": entry.drift, "applied": entry.applied},
                )
    if namespaces_too and still_held is not None and not still_held():
        report.stopped = True
        return report
    for found in namespaces.drift(prov, repair) if namespaces_too else []:
        report.tenants.append(
            TenantDrift(
                found["pilot"],
                found["state"],
                found["drift"],
                found["repaired"],
                found["applied"],
                found["error"],
                platform=found["platform"],
            )
        )
    return report


def _canonical(drift: list[dict[str, Any]]) -> str:
    return json.dumps(drift, sort_keys=True, default=str)


def _record_drift(
    prov: Provisioner, pilot_id: str, drift: list[dict[str, Any]], repair: bool
) -> None:
    """Audit ``tenant.drift`` when the drift differs from what was last known
    (a repair makes it none), so an hourly job does not repeat itself."""
    with session_scope(prov.engine) as session:
        last = session.exec(
            select(AuditEvent)
            .where(AuditEvent.subject == pilot_id)
            .where(col(AuditEvent.action).in_(["tenant.drift", "tenant.repaired"]))
            .order_by(col(AuditEvent.id).desc())
            .limit(1)
        ).first()
        known = [] if last is None or last.action == "tenant.repaired" else last.details["drift"]
        if _canonical(known) == _canonical(drift):
            return
        audit.record(
            session,
            actor=prov.actor,
            action="tenant.drift",
            subject=pilot_id,
            details={"drift": drift, "changes": len(drift), "repair": repair},
        )
