"""Expiry: the rules of ``policies/lifecycle.py`` for one day, on every tenant.

Why this exists: a pilot's end is a sequence — notices into the outbox (once
each), suspension the day after the last day (project disabled, quotas at
zero), and after the grace period the final invoice and then the teardown (no
teardown without the final invoice: the usage it prices is gone after).  Each
step may run again at any time; what is done is not done twice.  A suspension
applies only the changes it adds to the plan; other drift is left to
reconcile.  Notices (expiry, suspended, torn down) are queued through
:func:`ngc_pilot.mail.queue` in the PI's language; it deliberately sends no mail (the ``mail`` job does)
and prices nothing itself (:mod:`ngc_pilot.billing`).  Over 400 lines because
the steps of one pilot's end (notices, suspension, final invoice, teardown)
are one ordered sequence whose guards refer to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ngc_pilot import audit, mail
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.lifecycle import namespaces
from ngc_pilot.lifecycle.shared import LazyBackend, as_of, load, reason, tenants_in, when
from ngc_pilot.models import Invoice, OutboxMessage, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.provisioning import teardown
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import apply_delta
from ngc_pilot.tenant_state import set_state
from policies import lifecycle as rules
from provisioner.backend import CloudError
from provisioner.kubernetes.names import namespace_name

EXPIRING_STATES = ("active", "suspended", "failed")


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
            **when(self.today, self.today_given),
            "checked": self.checked,
            "steps": [s.as_dict() for s in self.steps],
            "failed": len(self.failed),
        }


def expire(prov: Provisioner, *, today: date | None = None, prices: Any = None) -> ExpiryReport:
    """Run the expiry rules for ``today`` (default: the UTC date now) on every tenant.

    ``prices`` is the price list for the final invoices (default: the provisioner's
    ``prices_file``, else the shipped one).
    """
    day, given = as_of(today)
    policy = prov.lifecycle()
    report = ExpiryReport(day, given)
    with session_scope(prov.engine) as session:
        rows = [
            (t.pilot_id, t.state, t.suspended_at is not None, p.planned_end)
            for t, p, _ in tenants_in(session, EXPIRING_STATES)
        ]
    report.checked = len(rows)
    backend = LazyBackend(prov)
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
    # A pilot with only a namespace: its notices and final invoice are made
    # here, the namespace's suspension and teardown by ``namespaces.expire``.
    only = namespaces.namespace_only(prov)
    alone = {pid: last_day for pid, _, last_day in only}
    held = set()
    for pilot_id, created, last_day in only:
        stage = rules.stage(policy, last_day, day)
        if stage == "running":
            days = rules.notice_due(policy, last_day, day)
            step = None if days is None else _notice(prov, pilot_id, days, last_day, day, given)
            if step is not None:
                report.steps.append(step)
        elif stage == "finalise":
            months = _unfinished_months(prov, pilot_id, created, day)
            if months:
                step = _final_invoices(prov, pilot_id, months, last_day, day, given, prices)
                report.steps.append(step)
                if not step.ok:
                    held.add(pilot_id)
    checked, steps = namespaces.expire(prov, day, given, frozenset(held))
    report.checked += checked
    for step in steps:
        pilot, action, ok, error = (step.pop(k) for k in ("pilot", "action", "ok", "error"))
        report.steps.append(ExpiryStep(pilot, action, step, ok=ok, error=error))
        if ok and pilot in alone and action == "suspend":
            _suspended_notice(prov, pilot, alone[pilot])
        elif ok and pilot in alone and action == "teardown":
            _torn_down_notice(prov, pilot, alone[pilot])
    return report


def _notice(
    prov: Provisioner,
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
            tenant, pilot, app = load(session, pilot_id)
            mail.queue(
                session,
                key=key,
                kind=f"expiry-{days}d",
                recipient=app.pi_email,
                language=mail.pi_language(app.document),
                pilot_id=pilot_id,
                context={
                    "pilot": pilot_id,
                    "name": app.name,
                    "pi_name": app.pi_name,
                    "project": _project(tenant, pilot_id),
                    "last_day": last_day.isoformat(),
                    "days_left": (last_day - day).days,
                    "suspend_on": marks.suspend_on.isoformat(),
                    "teardown_on": marks.teardown_on.isoformat(),
                    "grace_days": policy.grace_days,
                    "support_contact": prov.tenant_policy.tenancy.support_contact,
                },
            )
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.expiry_notice",
                subject=pilot_id,
                reason=reason(day, given, f"{days}-day expiry notice"),
                details={
                    "key": key,
                    "days": days,
                    "days_left": (last_day - day).days,
                    "last_day": last_day.isoformat(),
                    **when(day, given),
                },
            )
    except IntegrityError:
        return None  # another run recorded this notice at the same moment
    return ExpiryStep(
        pilot_id, "notice", {"key": key, "days": days, "last_day": last_day.isoformat()}
    )


def _suspend(
    prov: Provisioner,
    pilot_id: str,
    last_day: date,
    day: date,
    given: bool,
    backend: LazyBackend,
) -> ExpiryStep:
    """Record the suspension, then disable the project and zero its quotas."""
    marks = rules.milestones(prov.lifecycle(), last_day)
    with session_scope(prov.engine) as session:
        tenant, pilot, app = load(session, pilot_id)
        if tenant.suspended_at is None:
            tenant.suspended_at = tenant.updated_at = utcnow()
            session.add(tenant)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.suspend",
                subject=pilot_id,
                reason=reason(day, given, f"the pilot's last day was {last_day.isoformat()}"),
                details={**marks.as_dict(), **when(day, given)},
            )
            _queue_suspended(session, prov, pilot_id, last_day)
        before = desired_for(tenant, pilot, app, prov, suspended=False)
        after = desired_for(tenant, pilot, app, prov, suspended=True)
        credential_id = tenant.credential_id
    detail: dict[str, Any] = {
        "last_day": last_day.isoformat(),
        "teardown_on": str(marks.teardown_on),
    }
    try:
        result = apply_delta(prov, pilot_id, before, after, credential_id, backend.get())
    except CloudError as exc:
        set_state(prov, pilot_id, "failed", error=str(exc))
        return ExpiryStep(pilot_id, "suspend", detail, ok=False, error=str(exc))
    detail["applied"] = result.done
    if not result.ok:
        set_state(prov, pilot_id, "failed", error=result.error)
        return ExpiryStep(pilot_id, "suspend", detail, ok=False, error=result.error)
    set_state(prov, pilot_id, "suspended")
    return ExpiryStep(pilot_id, "suspend", detail)


def _project(tenant: Tenant | None, pilot_id: str) -> str:
    """What the notices call the tenant: the OpenStack project, else the namespace."""
    return tenant.project_name if tenant is not None else namespace_name(pilot_id)


def _queue_pi_notice(
    session: Session, prov: Provisioner, pilot_id: str, kind: str, key: str, **facts: str
) -> None:
    """Queue notice ``kind`` to the PI in their language, once per ``key``, in ``session``."""
    tenant, _pilot, app = load(session, pilot_id)
    mail.queue(
        session,
        key=key,
        kind=kind,
        recipient=app.pi_email,
        language=mail.pi_language(app.document),
        pilot_id=pilot_id,
        context={
            "pi_name": app.pi_name,
            "pilot": pilot_id,
            "project": _project(tenant, pilot_id),
            **facts,
            "support_contact": prov.tenant_policy.tenancy.support_contact,
        },
    )


def _queue_suspended(session: Session, prov: Provisioner, pilot_id: str, last_day: date) -> None:
    """Queue the "suspended" notice to the PI (once per pilot and end date), in ``session``."""
    marks = rules.milestones(prov.lifecycle(), last_day)
    _queue_pi_notice(
        session,
        prov,
        pilot_id,
        "suspended",
        f"suspended:{pilot_id}:{last_day.isoformat()}",
        last_day=last_day.isoformat(),
        teardown_on=marks.teardown_on.isoformat(),
    )


def _suspended_notice(prov: Provisioner, pilot_id: str, last_day: date) -> None:
    with session_scope(prov.engine) as session:
        _queue_suspended(session, prov, pilot_id, last_day)


def _unfinished_months(prov: Provisioner, pilot_id: str, created: date, day: date) -> list[str]:
    """Every month the tenant existed in through ``day`` without a final invoice yet."""
    with session_scope(prov.engine) as session:
        final = set(
            session.exec(
                select(Invoice.month).where(Invoice.pilot_id == pilot_id).where(col(Invoice.final))
            ).all()
        )
    return [m for m in _months(created, day) if m not in final]


def _months(first: date, last: date) -> list[str]:
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _finalise(
    prov: Provisioner,
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
        created = session.get(Tenant, pilot_id).created_at.date()
    # Every month the tenant existed in, through the teardown day.
    months = _unfinished_months(prov, pilot_id, created, day)
    if months:
        step = _final_invoices(prov, pilot_id, months, last_day, day, given, prices)
        steps.append(step)
        if not step.ok:
            return steps
    outcome = teardown(
        prov,
        pilot_id,
        reason=reason(
            day,
            given,
            f"the pilot's last day was {last_day.isoformat()} and the "
            f"{policy.grace_days}-day grace period is over",
        ),
    )
    data = outcome.as_dict()
    if data["clean"]:
        _torn_down_notice(prov, pilot_id, last_day)
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


def _torn_down_notice(prov: Provisioner, pilot_id: str, last_day: date) -> None:
    """Tell the PI the tenant is gone (once per pilot and end date)."""
    with session_scope(prov.engine) as session:
        _queue_pi_notice(
            session, prov, pilot_id, "torn_down", f"torn-down:{pilot_id}:{last_day.isoformat()}"
        )


def _final_invoices(
    prov: Provisioner,
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
        why = reason(day, given, f"final invoice: the pilot's last day was {last_day.isoformat()}")
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
            details={**detail, **when(day, given)},
        )
    return ExpiryStep(pilot_id, "final_invoice", detail)


def _invoice_ref(invoice: Any) -> dict[str, Any]:
    get = invoice.get if isinstance(invoice, dict) else lambda k: getattr(invoice, k, None)
    return {k: get(k) for k in ("id", "month", "revision", "final") if get(k) is not None}
