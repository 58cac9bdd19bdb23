"""A tenant's life after provisioning: drift, expiry, and the data-access switch.

* :func:`reconcile` — observe each active or suspended tenant and plan it; the
  plan's changes *are* the drift (quotas, roles, security-group rules, missing
  resources).  Drift is reported and audited when it changes; it is repaired
  (through the provisioning service, so every step is in the ledger) only
  when asked or when the lifecycle policy says so.
* :func:`expire` — the expiry rules of ``policies/lifecycle.py`` for one day:
  notices into the outbox (once each), suspension the day after the last day,
  and after the grace period the final invoice and the teardown.
* :func:`switch_data_access` — from the policy's date, grant each active
  tenant's members group the data-access role, once.

Suspension and data access are recorded on the tenant row *and* are part of
its desired state, so ``provision`` and ``reconcile`` keep them.  A lifecycle
step applies only the changes its decision adds to the plan; other drift is
left to :func:`reconcile`.  Every function may run again at any time: what is
done is not done twice.  ``today`` lets operations (and tests) run the rules
for a given day; every change made that way is audited with that day and the
fact that it was given.  Nothing here sends mail: the outbox is read by
whatever delivers it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ngc_pilot import audit, provisioning
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.models import Application, AuditEvent, Invoice, OutboxMessage, Pilot, Tenant
from policies import lifecycle as rules
from provisioner.apply import ApplyReport
from provisioner.backend import CloudBackend, CloudError
from provisioner.model import DesiredTenant, ObservedTenant, Plan
from provisioner.plan import plan

RECONCILED_STATES = ("active", "suspended")
EXPIRING_STATES = ("active", "suspended", "failed")


# --------------------------------------------------------------------- shared


def _as_of(today: date | None) -> tuple[date, bool]:
    """The day the rules run for, and whether it was given instead of read from the clock."""
    return (today, True) if today is not None else (utcnow().date(), False)


def _when(day: date, given: bool) -> dict[str, Any]:
    return {"today": day.isoformat(), "today_given": given}


def _reason(day: date, given: bool, why: str) -> str:
    return (
        f"{why} (rules run as of {day.isoformat()}, a date given by the operator)" if given else why
    )


def _tenants(session: Session, states: Sequence[str]) -> list[tuple[Tenant, Pilot, Application]]:
    rows = session.exec(
        select(Tenant, Pilot, Application)
        .join(Pilot, col(Pilot.id) == col(Tenant.pilot_id))
        .join(Application, col(Application.id) == col(Pilot.application_id))
        .where(col(Tenant.state).in_(list(states)))
        .order_by(col(Tenant.pilot_id))
    ).all()
    return [(t, p, a) for t, p, a in rows]


def _load(session: Session, pilot_id: str) -> tuple[Tenant, Pilot, Application]:
    tenant = session.get(Tenant, pilot_id)
    pilot = session.get(Pilot, pilot_id)
    return tenant, pilot, session.get(Application, pilot.application_id)


class _Backend:
    """One cloud connection per run, made only when a step needs the cloud."""

    def __init__(self, prov: provisioning.Provisioner):
        self._prov = prov
        self._backend: CloudBackend | None = None

    def get(self) -> CloudBackend:
        if self._backend is None:
            self._backend = self._prov.backend_factory()
        return self._backend


def _apply_delta(
    prov: provisioning.Provisioner,
    pilot_id: str,
    before: DesiredTenant,
    after: DesiredTenant,
    credential_id: str | None,
    backend: CloudBackend,
    observed: ObservedTenant | None = None,
) -> ApplyReport:
    """Apply only the changes that going from ``before`` to ``after`` adds to the plan."""
    if observed is None:
        observed = backend.observe(after)
    delivered = provisioning._delivered_for(
        prov, pilot_id, credential_id, observed.app_credential_id
    )
    old = plan(before, observed, credential_delivered=delivered).changes
    new = plan(after, observed, credential_delivered=delivered).changes
    delta = Plan(pilot_id, tuple(c for c in new if c not in old))
    if delta.empty:
        return ApplyReport(pilot_id)
    run_id = uuid.uuid4().hex[:12]
    return provisioning._apply_recorded(prov, pilot_id, run_id, delta, after, backend, None)


# ------------------------------------------------------------------ reconcile


@dataclass
class TenantDrift:
    pilot_id: str
    state: str
    drift: list[dict[str, Any]] = field(default_factory=list)
    repaired: bool = False
    applied: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
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


def reconcile(prov: provisioning.Provisioner, *, repair: bool | None = None) -> ReconcileReport:
    """Report every active or suspended tenant's drift; repair it if ``repair``
    (None: as the lifecycle policy says)."""
    if repair is None:
        repair = prov.lifecycle().reconcile.repair
    report = ReconcileReport(repair)
    with session_scope(prov.engine) as session:
        rows = [
            (t.pilot_id, t.state, provisioning.desired_for(t, p, a, prov), t.credential_id)
            for t, p, a in _tenants(session, RECONCILED_STATES)
        ]
    backend = _Backend(prov)
    for pilot_id, state, desired, credential_id in rows:
        entry = TenantDrift(pilot_id, state)
        report.tenants.append(entry)
        try:
            observed = backend.get().observe(desired)
        except CloudError as exc:
            entry.error = str(exc)
            continue
        delivered = provisioning._delivered_for(
            prov, pilot_id, credential_id, observed.app_credential_id
        )
        entry.drift = [
            c.as_dict() for c in plan(desired, observed, credential_delivered=delivered).changes
        ]
        _record_drift(prov, pilot_id, entry.drift, repair)
        if not entry.drift or not repair:
            continue
        outcome = provisioning._provision_one(prov, pilot_id, None)
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
    return report


def _canonical(drift: list[dict[str, Any]]) -> str:
    return json.dumps(drift, sort_keys=True, default=str)


def _record_drift(
    prov: provisioning.Provisioner, pilot_id: str, drift: list[dict[str, Any]], repair: bool
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


# --------------------------------------------------------------------- expiry


@dataclass
class ExpiryStep:
    pilot_id: str
    action: str  # notice | suspend | final_invoice | teardown
    detail: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "action": self.action,
            "ok": self.ok,
            "error": self.error,
            **self.detail,
        }


@dataclass
class ExpiryReport:
    today: date
    today_given: bool
    checked: int = 0
    steps: list[ExpiryStep] = field(default_factory=list)

    @property
    def failed(self) -> list[ExpiryStep]:
        return [s for s in self.steps if not s.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            **_when(self.today, self.today_given),
            "checked": self.checked,
            "steps": [s.as_dict() for s in self.steps],
            "failed": len(self.failed),
        }


def expire(
    prov: provisioning.Provisioner, *, today: date | None = None, prices: Any = None
) -> ExpiryReport:
    """Run the expiry rules for ``today`` (default: the UTC date now) on every tenant.

    ``prices`` is the price list for the final invoices (default: the provisioner's
    ``prices_file``, else the shipped one).
    """
    day, given = _as_of(today)
    policy = prov.lifecycle()
    report = ExpiryReport(day, given)
    with session_scope(prov.engine) as session:
        rows = [
            (t.pilot_id, t.state, t.suspended_at is not None, p.planned_end)
            for t, p, _ in _tenants(session, EXPIRING_STATES)
        ]
    report.checked = len(rows)
    backend = _Backend(prov)
    for pilot_id, state, suspended, last_day in rows:
        stage = rules.stage(policy, last_day, day)
        if stage == "running":
            days = rules.notice_due(policy, last_day, day)
            if days is not None:
                step = _notice(prov, pilot_id, days, last_day, day, given)
                if step is not None:
                    report.steps.append(step)
        elif stage == "suspend":
            if not (suspended and state == "suspended"):
                report.steps.append(_suspend(prov, pilot_id, last_day, day, given, backend))
        else:
            report.steps.extend(_finalise(prov, pilot_id, last_day, day, given, prices))
    return report


def _notice(
    prov: provisioning.Provisioner,
    pilot_id: str,
    days: int,
    last_day: date,
    day: date,
    given: bool,
) -> ExpiryStep | None:
    policy = prov.lifecycle()
    key = rules.notice_key(days, pilot_id, last_day)
    marks = rules.milestones(policy, last_day)
    try:
        with session_scope(prov.engine) as session:
            if session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first():
                return None
            tenant, pilot, app = _load(session, pilot_id)
            subject, body = policy.notice.render(
                {
                    "pilot": pilot_id,
                    "name": app.name,
                    "pi_name": app.pi_name,
                    "project": tenant.project_name,
                    "last_day": last_day.isoformat(),
                    "days_left": (last_day - day).days,
                    "suspend_on": marks.suspend_on.isoformat(),
                    "teardown_on": marks.teardown_on.isoformat(),
                    "grace_days": policy.grace_days,
                    "support_contact": prov.tenant_policy.tenancy.support_contact,
                }
            )
            message = OutboxMessage(
                key=key,
                pilot_id=pilot_id,
                kind=f"expiry-{days}d",
                recipient=app.pi_email,
                subject=subject[:300],
                body=body[:10000],
            )
            session.add(message)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.expiry_notice",
                subject=pilot_id,
                reason=_reason(day, given, f"{days}-day expiry notice"),
                details={
                    "key": key,
                    "days": days,
                    "days_left": (last_day - day).days,
                    "last_day": last_day.isoformat(),
                    **_when(day, given),
                },
            )
    except IntegrityError:
        return None  # another run recorded this notice at the same moment
    return ExpiryStep(
        pilot_id, "notice", {"key": key, "days": days, "last_day": last_day.isoformat()}
    )


def _suspend(
    prov: provisioning.Provisioner,
    pilot_id: str,
    last_day: date,
    day: date,
    given: bool,
    backend: _Backend,
) -> ExpiryStep:
    """Record the suspension, then disable the project and zero its quotas."""
    marks = rules.milestones(prov.lifecycle(), last_day)
    with session_scope(prov.engine) as session:
        tenant, pilot, app = _load(session, pilot_id)
        if tenant.suspended_at is None:
            tenant.suspended_at = tenant.updated_at = utcnow()
            session.add(tenant)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.suspend",
                subject=pilot_id,
                reason=_reason(day, given, f"the pilot's last day was {last_day.isoformat()}"),
                details={**marks.as_dict(), **_when(day, given)},
            )
        before = provisioning.desired_for(tenant, pilot, app, prov, suspended=False)
        after = provisioning.desired_for(tenant, pilot, app, prov, suspended=True)
        credential_id = tenant.credential_id
    detail: dict[str, Any] = {
        "last_day": last_day.isoformat(),
        "teardown_on": str(marks.teardown_on),
    }
    try:
        result = _apply_delta(prov, pilot_id, before, after, credential_id, backend.get())
    except CloudError as exc:
        provisioning._set_state(prov, pilot_id, "failed", error=str(exc))
        return ExpiryStep(pilot_id, "suspend", detail, ok=False, error=str(exc))
    detail["applied"] = result.done
    if not result.ok:
        provisioning._set_state(prov, pilot_id, "failed", error=result.error)
        return ExpiryStep(pilot_id, "suspend", detail, ok=False, error=result.error)
    provisioning._set_state(prov, pilot_id, "suspended")
    return ExpiryStep(pilot_id, "suspend", detail)


def _months(first: date, last: date) -> list[str]:
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _finalise(
    prov: provisioning.Provisioner,
    pilot_id: str,
    last_day: date,
    day: date,
    given: bool,
    prices: Any,
) -> list[ExpiryStep]:
    """Final invoice for every month of the tenant not yet final, then the teardown.

    No teardown without the final invoice: the usage it prices is gone after.
    """
    steps = []
    policy = prov.lifecycle()
    with session_scope(prov.engine) as session:
        tenant = session.get(Tenant, pilot_id)
        final = set(
            session.exec(
                select(Invoice.month).where(Invoice.pilot_id == pilot_id).where(col(Invoice.final))
            ).all()
        )
        # Every month the tenant existed in, through the teardown day.
        months = [m for m in _months(tenant.created_at.date(), day) if m not in final]
    if months:
        step = _final_invoices(prov, pilot_id, months, last_day, day, given, prices)
        steps.append(step)
        if not step.ok:
            return steps
    outcome = provisioning.teardown(
        prov,
        pilot_id,
        reason=_reason(
            day,
            given,
            f"the pilot's last day was {last_day.isoformat()} and the "
            f"{policy.grace_days}-day grace period is over",
        ),
    )
    data = outcome.as_dict()
    steps.append(
        ExpiryStep(
            pilot_id,
            "teardown",
            {"removed": data["removed"], "leftovers": data["leftovers"]},
            ok=data["clean"],
            error=None if data["clean"] else (data["error"] or "leftovers remain"),
        )
    )
    return steps


def _final_invoices(
    prov: provisioning.Provisioner,
    pilot_id: str,
    months: list[str],
    last_day: date,
    day: date,
    given: bool,
    prices: Any,
) -> ExpiryStep:
    detail: dict[str, Any] = {"months": months}
    try:
        from ngc_pilot import billing
    except ImportError as exc:
        return ExpiryStep(
            pilot_id,
            "final_invoice",
            detail,
            ok=False,
            error=f"billing is not available ({exc}); the teardown waits for the final invoice",
        )
    try:
        if prices is None:
            from policies.prices import load_prices

            prices = load_prices(prov.prices_file)
        why = _reason(day, given, f"final invoice: the pilot's last day was {last_day.isoformat()}")
        invoices = []
        for month in months:
            invoices.extend(
                billing.rate_month(
                    prov.engine,
                    prices,
                    month,
                    actor=prov.actor,
                    pilot_ids=[pilot_id],
                    final=True,
                    reason=why,
                )
            )
    except Exception as exc:  # noqa: BLE001 - any failure here must stop the teardown
        return ExpiryStep(
            pilot_id,
            "final_invoice",
            detail,
            ok=False,
            error=f"{type(exc).__name__}: {exc}; the teardown waits for the final invoice",
        )
    detail["invoices"] = [_invoice_ref(i) for i in invoices]
    with session_scope(prov.engine) as session:
        audit.record(
            session,
            actor=prov.actor,
            action="tenant.final_invoice",
            subject=pilot_id,
            reason=why,
            details={**detail, **_when(day, given)},
        )
    return ExpiryStep(pilot_id, "final_invoice", detail)


def _invoice_ref(invoice: Any) -> dict[str, Any]:
    get = invoice.get if isinstance(invoice, dict) else lambda k: getattr(invoice, k, None)
    return {k: get(k) for k in ("id", "month", "revision", "final") if get(k) is not None}


# ---------------------------------------------------------------- data access


@dataclass
class AccessReport:
    today: date
    today_given: bool
    date: date
    role: str
    due: bool
    tenants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [t for t in self.tenants if not t["granted"]]

    def as_dict(self) -> dict[str, Any]:
        return {
            **_when(self.today, self.today_given),
            "date": self.date.isoformat(),
            "role": self.role,
            "due": self.due,
            "tenants": self.tenants,
            "granted": len(self.tenants) - len(self.failed),
            "failed": len(self.failed),
        }


def switch_data_access(
    prov: provisioning.Provisioner, *, today: date | None = None
) -> AccessReport:
    """On and after the policy's date, grant each active tenant not yet granted
    the data-access role (refused, changing nothing, if Keystone lacks the role)."""
    day, given = _as_of(today)
    rule = prov.lifecycle().data_access
    report = AccessReport(
        day, given, rule.date, rule.role, rules.data_access_due(prov.lifecycle(), day)
    )
    if not report.due:
        return report
    with session_scope(prov.engine) as session:
        todo = [
            t.pilot_id
            for t, _, _ in _tenants(session, ("active",))
            if t.data_access_granted_at is None
        ]
    backend = _Backend(prov)
    for pilot_id in todo:
        report.tenants.append(_grant(prov, pilot_id, day, given, backend))
    return report


def _grant(
    prov: provisioning.Provisioner, pilot_id: str, day: date, given: bool, backend: _Backend
) -> dict[str, Any]:
    role = prov.lifecycle().data_access.role
    entry: dict[str, Any] = {"pilot": pilot_id, "granted": False, "applied": [], "error": None}
    with session_scope(prov.engine) as session:
        tenant, pilot, app = _load(session, pilot_id)
        before = provisioning.desired_for(tenant, pilot, app, prov, data_access=False)
        after = provisioning.desired_for(tenant, pilot, app, prov, data_access=True)
        credential_id = tenant.credential_id
    try:
        observed = backend.get().observe(after)
        if role in observed.missing_roles:
            entry["error"] = (
                f"the Keystone role {role!r} does not exist; nothing was granted. Operations "
                f"create it (openstack role create {role}) together with the data services' "
                "policy that gives it meaning"
            )
            return entry
        result = _apply_delta(prov, pilot_id, before, after, credential_id, backend.get(), observed)
    except CloudError as exc:
        entry["error"] = str(exc)
        return entry
    entry["applied"] = result.done
    if not result.ok:
        entry["error"] = result.error
        return entry
    with session_scope(prov.engine) as session:
        tenant = session.get(Tenant, pilot_id)
        tenant.data_access_granted_at = tenant.updated_at = utcnow()
        session.add(tenant)
        audit.record(
            session,
            actor=prov.actor,
            action="tenant.data_access_granted",
            subject=pilot_id,
            reason=_reason(day, given, f"the data-access date {prov.lifecycle().data_access.date}"),
            details={"role": role, "applied": result.done, **_when(day, given)},
        )
    entry["granted"] = True
    return entry


# --------------------------------------------------------------------- outbox


def outbox(session: Session, pilot_id: str | None = None) -> list[dict[str, Any]]:
    """The recorded notices, oldest first."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if pilot_id:
        query = query.where(OutboxMessage.pilot_id == pilot_id)
    return [
        {
            "id": m.id,
            "key": m.key,
            "pilot": m.pilot_id,
            "kind": m.kind,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        }
        for m in session.exec(query).all()
    ]
