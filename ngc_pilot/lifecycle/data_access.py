"""The data-access switch: from each pilot's date, its active tenant gets the data-access role.

Why this exists: a pilot may reach the national genome data only from a date —
its own (``pilot.data_access_date``, set with :func:`set_data_access_date`) or
else the lifecycle policy's — and only if its nomination names one of the
policy's national-genome data sources (data minimisation: a pilot that does
not use the data never gets access to it).  :func:`switch_data_access` grants
each such active tenant's members group the role, once, and records it on the
tenant row so provisioning and reconcile keep it; every other active tenant is
listed with why not.  It refuses (changing nothing) when Keystone lacks the
role, and deliberately does not create the role: operations do, with the data
services' policy that gives it meaning.  It never takes a role away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.lifecycle.shared import LazyBackend, as_of, load, reason, tenants_in, when
from ngc_pilot.models import Application, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import apply_delta
from policies import lifecycle as rules
from policies.problems import Problem
from provisioner.backend import CloudError

MAX_REASON = 2000  # audit_event.reason
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class AccessReport:
    """``due``: the policy's default date has come; ``tenants``: the grants tried
    this run; ``skipped``: every other active tenant, with why."""

    today: date
    today_given: bool
    date: date
    role: str
    sources: list[str]
    due: bool
    tenants: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [t for t in self.tenants if not t["granted"]]

    def as_dict(self) -> dict[str, Any]:
        return {
            **when(self.today, self.today_given),
            "date": self.date.isoformat(),
            "role": self.role,
            "sources": self.sources,
            "due": self.due,
            "tenants": self.tenants,
            "skipped": self.skipped,
            "granted": len(self.tenants) - len(self.failed),
            "failed": len(self.failed),
        }


def data_sources(application: Application) -> list[str]:
    """The data sources the nomination named (``data.sources``, the intake schema)."""
    data = application.document.get("data") if isinstance(application.document, dict) else None
    sources = data.get("sources") if isinstance(data, dict) else None
    return [str(s) for s in sources] if isinstance(sources, list) else []


def _why_not(status: str, effective: date, own: bool, sources: list[str], wanted: list[str]) -> str:
    if status == "no_national_data":
        named = ", ".join(sources) or "none"
        return (
            f"never granted: its data sources ({named}) include none of the national genome "
            f"data ({', '.join(wanted)})"
        )
    whose = "its own date" if own else "the policy's date"
    return f"not before {effective.isoformat()} ({whose})"


def no_national_data(policy: rules.LifecyclePolicy, application: Application) -> str | None:
    """Why the pilot of ``application`` is never granted data access, or None if it may be."""
    sources = data_sources(application)
    if rules.has_national_data(policy, sources):
        return None
    wanted = list(policy.data_access.sources)
    return _why_not("no_national_data", policy.data_access.date, False, sources, wanted)


def switch_data_access(prov: Provisioner, *, today: date | None = None) -> AccessReport:
    """Grant each active tenant not yet granted whose pilot's date has come and whose
    data sources include the national genome data the data-access role (refused,
    changing nothing, if Keystone lacks the role)."""
    day, given = as_of(today)
    policy = prov.lifecycle()
    rule = policy.data_access
    report = AccessReport(
        day, given, rule.date, rule.role, list(rule.sources), rules.data_access_due(policy, day)
    )
    todo: list[tuple[str, date, bool]] = []
    with session_scope(prov.engine) as session:
        for tenant, pilot, app in tenants_in(session, ("active",)):
            own = pilot.data_access_date
            effective = own or rule.date
            entry = {"pilot": tenant.pilot_id, "date": effective.isoformat(), "own_date": bool(own)}
            if tenant.data_access_granted_at is not None:
                at = tenant.data_access_granted_at.date().isoformat()
                report.skipped.append({**entry, "status": "granted", "why": f"granted on {at}"})
                continue
            sources = data_sources(app)
            status = rules.data_access_status(policy, sources, own, day)
            if status == "due":
                todo.append((tenant.pilot_id, effective, bool(own)))
            else:
                why = _why_not(status, effective, bool(own), sources, list(rule.sources))
                report.skipped.append({**entry, "status": status, "why": why})
    backend = LazyBackend(prov)
    for pilot_id, effective, own in todo:
        report.tenants.append(_grant(prov, pilot_id, day, given, backend, effective, own))
    return report


def set_data_access_date(
    engine: Engine,
    policy: rules.LifecyclePolicy,
    pilot_id: str,
    value: date | None,
    *,
    actor: str,
    why: str | None = None,
) -> dict[str, Any]:
    """Set (``None``: clear, back to the policy's) the pilot's data-access date; audited.

    Refused, changing nothing: an unknown pilot, a pilot whose data sources
    include no national genome data (it is never granted), a pilot already granted.
    """

    def refuse(value_shown: Any, message: str, field: str = "pilot") -> InputError:
        return InputError([Problem("data access date", field, value_shown, message)])

    if why is not None:
        why = why.strip() or None
        if why and len(why) > MAX_REASON:
            raise refuse(f"{len(why)} characters", f"at most {MAX_REASON} characters", "reason")
        if why and _CONTROL.search(why):
            raise refuse(why, "only printable text is allowed (no control characters)", "reason")
    with session_scope(engine) as session:
        pilot = session.get(Pilot, pilot_id)
        if pilot is None:
            raise NotFoundError(
                [
                    Problem(
                        "data access date",
                        "pilot",
                        pilot_id,
                        "no such pilot; see ngc-pilot tenants",
                    )
                ]
            )
        app = session.get(Application, pilot.application_id)
        sources = data_sources(app) if app is not None else []
        if not rules.has_national_data(policy, sources):
            wanted = list(policy.data_access.sources)
            why_not = _why_not("no_national_data", policy.data_access.date, False, sources, wanted)
            raise refuse(pilot_id, f"{why_not}; a date would change nothing")
        tenant = session.get(Tenant, pilot_id)
        if tenant is not None and tenant.data_access_granted_at is not None:
            at = tenant.data_access_granted_at.date().isoformat()
            raise refuse(
                pilot_id, f"data access was already granted on {at}; a date changes nothing"
            )
        before = pilot.data_access_date
        pilot.data_access_date = value
        pilot.updated_at = utcnow()
        session.add(pilot)
        result = {
            "pilot": pilot_id,
            "from": before.isoformat() if before else None,
            "to": value.isoformat() if value else None,
            "date": (value or policy.data_access.date).isoformat(),
        }
        audit.record(
            session,
            actor=actor,
            action="pilot.data_access_date_set",
            subject=pilot_id,
            reason=why,
            details=result,
        )
    return result


def _grant(
    prov: Provisioner,
    pilot_id: str,
    day: date,
    given: bool,
    backend: LazyBackend,
    effective: date,
    own: bool,
) -> dict[str, Any]:
    role = prov.lifecycle().data_access.role
    entry: dict[str, Any] = {"pilot": pilot_id, "granted": False, "applied": [], "error": None}
    with session_scope(prov.engine) as session:
        tenant, pilot, app = load(session, pilot_id)
        before = desired_for(tenant, pilot, app, prov, data_access=False)
        after = desired_for(tenant, pilot, app, prov, data_access=True)
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
        result = apply_delta(prov, pilot_id, before, after, credential_id, backend.get(), observed)
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
            reason=reason(
                day,
                given,
                f"the data-access date {effective} ({'the pilot' if own else 'the policy'}'s)",
            ),
            details={
                "role": role,
                "applied": result.done,
                "date": effective.isoformat(),
                "own_date": own,
                **when(day, given),
            },
        )
    entry["granted"] = True
    return entry
