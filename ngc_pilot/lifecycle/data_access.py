"""The data-access switch: from the policy's date, each active tenant gets the data-access role.

Why this exists: the pilots may reach the national genome data only from a
date set by the lifecycle policy; on and after it, :func:`switch_data_access`
grants each active tenant's members group the data-access role, once, and
records it on the tenant row so provisioning and reconcile keep it.  It
refuses (changing nothing) when Keystone lacks the role, and deliberately
does not create the role: operations do, with the data services' policy that
gives it meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.lifecycle.shared import LazyBackend, as_of, load, reason, tenants_in, when
from ngc_pilot.models import Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import apply_delta
from policies import lifecycle as rules
from provisioner.backend import CloudError


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
            **when(self.today, self.today_given),
            "date": self.date.isoformat(),
            "role": self.role,
            "due": self.due,
            "tenants": self.tenants,
            "granted": len(self.tenants) - len(self.failed),
            "failed": len(self.failed),
        }


def switch_data_access(prov: Provisioner, *, today: date | None = None) -> AccessReport:
    """On and after the policy's date, grant each active tenant not yet granted
    the data-access role (refused, changing nothing, if Keystone lacks the role)."""
    day, given = as_of(today)
    rule = prov.lifecycle().data_access
    report = AccessReport(
        day, given, rule.date, rule.role, rules.data_access_due(prov.lifecycle(), day)
    )
    if not report.due:
        return report
    with session_scope(prov.engine) as session:
        todo = [
            t.pilot_id
            for t, _, _ in tenants_in(session, ("active",))
            if t.data_access_granted_at is None
        ]
    backend = LazyBackend(prov)
    for pilot_id in todo:
        report.tenants.append(_grant(prov, pilot_id, day, given, backend))
    return report


def _grant(
    prov: Provisioner, pilot_id: str, day: date, given: bool, backend: LazyBackend
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
            reason=reason(day, given, f"the data-access date {prov.lifecycle().data_access.date}"),
            details={"role": role, "applied": result.done, **when(day, given)},
        )
    entry["granted"] = True
    return entry
