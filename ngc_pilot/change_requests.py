"""Change requests: a pilot asks for more time, another size, a member or data access.

Why this exists: a researcher who needs more time or more quota has a way to
ask, and operations decide with a reason that is kept.  A request is filed
with a justification (checked: the pilot exists, its tenant is not torn down,
the date is after the current end, the size is the policy's, the e-mail
address is well formed), then approved or rejected once.  The decision, the
notice to the PI (an ``OutboxMessage``, in Danish) and the audit entry commit
together.  An approved extension or resize changes the pilot's end or the
tenant's size and is applied through the provisioner's plan, like
provisioning itself: only the changes the decision adds (new quotas, a
credential renewed to the new end).  Resizes and extensions pass the
capacity gate first; one that does not fit is refused with the numbers and
nothing changes.  Data access is granted to the tenant as the data-access
switch grants it.

Deliberately not here: adding a member's Keystone user (the members service,
``ngc-pilot members add``; an approved ``add_member`` request records the
decision and says so), sending e-mail (the outbox), and any interface wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.models import Application, OutboxMessage, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.provisioning_gates import check_capacity
from ngc_pilot.request_models import KINDS, STATUSES, ChangeRequest
from ngc_pilot.request_notices import decision_notice
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import apply_delta
from policies.problems import Problem
from policies.tenancy import TenantPolicy
from provisioner.backend import CloudError
from provisioner.model import DesiredTenant

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# Tenants whose cloud is changed at once on approval; others get the change on
# their next provisioning run (planned) or have none (torn down: refused).
LIVE_STATES = ("provisioning", "active", "suspended", "failed")


@dataclass(frozen=True)
class Decision:
    """What deciding a request did: its status afterwards and what was applied."""

    request: dict[str, Any]
    applied: tuple[str, ...] = ()


def as_dict(r: ChangeRequest, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": r.id,
        "pilot": r.pilot_id,
        "kind": r.kind,
        "value": r.value,
        "justification": r.justification,
        "filed_by": r.filed_by,
        "filed_at": r.filed_at.isoformat(),
        "age_seconds": int((now - r.filed_at).total_seconds()),
        "status": r.status,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
        "reason": r.reason,
        "note": r.note,
        "error": r.error,
    }


# ---------------------------------------------------------------------- filing


def file_request(
    session: Session,
    tenant_policy: TenantPolicy,
    *,
    pilot_id: str,
    kind: str,
    value: str = "",
    justification: str,
    filed_by: str,
) -> ChangeRequest:
    """Record a pending request (audited) after checking it; refused whole on any problem."""
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFoundError(
            [Problem("request", "pilot", pilot_id, "no committed pilot with this id")]
        )
    tenant = session.get(Tenant, pilot_id)
    if tenant is not None and tenant.state == "torn_down":
        raise InputError(
            [
                Problem(
                    "request",
                    "pilot",
                    pilot_id,
                    "its tenant has been torn down; a torn-down tenant takes no requests",
                )
            ]
        )
    if kind not in KINDS:
        raise InputError([Problem("request", "kind", kind, f"allowed: {', '.join(KINDS)}")])
    if not justification.strip():
        raise InputError(
            [Problem("request", "justification", justification, "give a justification")]
        )
    value = _checked_value(tenant_policy, pilot, tenant, kind, value.strip())
    request = ChangeRequest(
        pilot_id=pilot_id,
        kind=kind,
        value=value,
        justification=justification.strip(),
        filed_by=filed_by,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=filed_by,
        action="change_request.filed",
        subject=pilot_id,
        reason=request.justification,
        details={"request": request.id, "kind": kind, "value": value},
    )
    return request


def _checked_value(
    tenant_policy: TenantPolicy, pilot: Pilot, tenant: Tenant | None, kind: str, value: str
) -> str:
    if kind == "extend":
        try:
            wanted = date.fromisoformat(value)
        except ValueError:
            raise InputError(
                [Problem("request", "end date", value, "not a date; write YYYY-MM-DD (UTC)")]
            ) from None
        if wanted <= pilot.planned_end:
            raise InputError(
                [
                    Problem(
                        "request",
                        "end date",
                        value,
                        f"must be after the pilot's current end {pilot.planned_end.isoformat()}",
                    )
                ]
            )
        return wanted.isoformat()
    if kind == "resize":
        sizes = tenant_policy.sizes
        if value not in sizes:
            raise InputError(
                [Problem("request", "size", value, f"allowed sizes: {', '.join(sorted(sizes))}")]
            )
        if tenant is None:
            raise InputError(
                [
                    Problem(
                        "request", "pilot", pilot.id, "has no tenant yet; only a tenant is resized"
                    )
                ]
            )
        if tenant.size == value:
            raise InputError(
                [Problem("request", "size", value, f"the tenant of {pilot.id} already has it")]
            )
        return value
    if kind == "add_member":
        if len(value) > 254 or not EMAIL.match(value):
            raise InputError(
                [
                    Problem(
                        "request",
                        "member e-mail",
                        value,
                        "expected an e-mail address like name@example.org",
                    )
                ]
            )
        return value
    if tenant is None:
        raise InputError(
            [
                Problem(
                    "request",
                    "pilot",
                    pilot.id,
                    "has no tenant yet; data access is granted to a tenant",
                )
            ]
        )
    return ""  # data_access: nothing to choose


# ------------------------------------------------------------------- reading


def list_requests(
    session: Session, *, pilot_id: str | None = None, status: str | None = None
) -> list[ChangeRequest]:
    if status is not None and status not in STATUSES:
        raise InputError([Problem("request", "status", status, f"allowed: {', '.join(STATUSES)}")])
    query = select(ChangeRequest).order_by(col(ChangeRequest.id))
    if pilot_id is not None:
        query = query.where(ChangeRequest.pilot_id == pilot_id)
    if status is not None:
        query = query.where(ChangeRequest.status == status)
    return list(session.exec(query).all())


def _load(session: Session, request_id: int) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFoundError(
            [Problem("request", "id", request_id, "no change request with this id")]
        )
    if request.status != "pending":
        raise InputError(
            [
                Problem(
                    "request",
                    "id",
                    request_id,
                    f"already decided ({request.status} by {request.decided_by}); "
                    "a request is decided once",
                )
            ]
        )
    return request


def _claim(session: Session, request: ChangeRequest, status: str, by: str, reason: str) -> None:
    """Set the decision only if the request is still pending (two deciders: one wins)."""
    now = utcnow()
    result = session.execute(
        update(ChangeRequest)
        .where(col(ChangeRequest.id) == request.id, col(ChangeRequest.status) == "pending")
        .values(status=status, decided_by=by, decided_at=now, reason=reason)
    )
    if result.rowcount != 1:
        raise InputError(
            [Problem("request", "id", request.id, "already decided; a request is decided once")]
        )
    session.refresh(request)


def _notify(session: Session, request: ChangeRequest) -> None:
    pilot = session.get(Pilot, request.pilot_id)
    app = session.get(Application, pilot.application_id)
    subject, body = decision_notice(request, app.name)
    session.add(
        OutboxMessage(
            key=f"request-decided:{request.id}",
            pilot_id=request.pilot_id,
            kind="request_decided",
            recipient=app.pi_email,
            subject=subject,
            body=body,
        )
    )


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InputError([Problem("request", "reason", reason, "give a reason for the decision")])
    return reason.strip()


# ------------------------------------------------------------------- deciding


def reject(prov: Provisioner, request_id: int, *, by: str, reason: str) -> dict[str, Any]:
    """Reject a pending request (the PI is told; audited)."""
    reason = _reason(reason)
    with session_scope(prov.engine) as session:
        request = _load(session, request_id)
        _claim(session, request, "rejected", by, reason)
        _notify(session, request)
        audit.record(
            session,
            actor=by,
            action="change_request.rejected",
            subject=request.pilot_id,
            reason=reason,
            details={"request": request.id, "kind": request.kind, "value": request.value},
        )
        return as_dict(request)


def approve(prov: Provisioner, request_id: int, *, by: str, reason: str) -> Decision:
    """Approve a pending request and apply it; the request ends applied, failed or approved.

    The decision (rows changed, notice, audit) commits before the cloud is
    touched; a cloud failure then leaves the request ``failed`` with the
    error, and the reconcile job or a re-run of ``provision`` converges the
    tenant to the decided state.
    """
    reason = _reason(reason)
    with session_scope(prov.engine) as session:
        request = _load(session, request_id)
        pilot = session.get(Pilot, request.pilot_id)
        tenant = session.get(Tenant, request.pilot_id)
        app = session.get(Application, pilot.application_id)
        if tenant is not None and tenant.state == "torn_down":
            raise InputError(
                [Problem("request", "pilot", pilot.id, "its tenant has been torn down since")]
            )
        live = tenant is not None and tenant.state in LIVE_STATES
        before = desired_for(tenant, pilot, app, prov) if live else None
        if request.kind == "extend":
            wanted = date.fromisoformat(request.value)
            if wanted <= pilot.planned_end:
                raise InputError(
                    [
                        Problem(
                            "request",
                            "end date",
                            request.value,
                            f"no longer after the pilot's end {pilot.planned_end.isoformat()}",
                        )
                    ]
                )
            _fits(session, prov, tenant, tenant.size if tenant else None, request)
            pilot.planned_end, pilot.updated_at = wanted, utcnow()
            session.add(pilot)
        elif request.kind == "resize":
            _fits(session, prov, tenant, request.value, request)
            if tenant is not None:
                tenant.size, tenant.updated_at = request.value, utcnow()
                session.add(tenant)
        elif request.kind == "data_access" and tenant is not None:
            tenant.data_access_granted_at = tenant.updated_at = utcnow()
            session.add(tenant)
        _claim(session, request, "approved", by, reason)
        if request.kind == "add_member":
            request.note = (
                f"approved; the member is added with `ngc-pilot members add {pilot.id} "
                f"{request.value}` (no members service in this build)"
            )
        elif not live:
            request.note = "approved; the tenant gets it when it is provisioned"
        session.add(request)
        _notify(session, request)
        audit.record(
            session,
            actor=by,
            action="change_request.approved",
            subject=request.pilot_id,
            reason=reason,
            details={"request": request.id, "kind": request.kind, "value": request.value},
        )
        after = desired_for(tenant, pilot, app, prov) if live else None
        credential_id = tenant.credential_id if tenant else None
    if before is None or after is None or request.kind == "add_member":
        return Decision(_reread(prov, request_id))
    return _apply(prov, request_id, before, after, credential_id, by)


def _fits(
    session: Session,
    prov: Provisioner,
    tenant: Tenant | None,
    size: str | None,
    request: ChangeRequest,
) -> None:
    """The capacity gate: every holding tenant's quotas, this one at ``size``, fit the cloud."""
    if tenant is None or size is None:
        return
    resized = Tenant(
        pilot_id=tenant.pilot_id,
        cloud=tenant.cloud,
        size=size,
        project_name=tenant.project_name,
        cidr=tenant.cidr,
    )
    try:
        verdicts = check_capacity(session, prov, [resized], prov.backend_factory())
    except CloudError as exc:
        raise InputError(
            [Problem("capacity", "cloud", prov.cloud, f"capacity could not be read: {exc}")]
        ) from exc
    over = [v for v in verdicts if v.over]
    if over:
        what = "resize to " + size if request.kind == "resize" else "extension"
        raise InputError(
            [
                Problem(
                    "capacity",
                    v.resource,
                    v.promised,
                    f"request {request.id} ({what} of {request.pilot_id}) does not fit: "
                    + v.message(),
                )
                for v in over
            ]
        )


def _apply(
    prov: Provisioner,
    request_id: int,
    before: DesiredTenant,
    after: DesiredTenant,
    credential_id: str | None,
    by: str,
) -> Decision:
    pilot_id = after.pilot_id
    error: str | None = None
    done: list[str] = []
    try:
        backend = prov.backend_factory()
        observed = backend.observe(after)
        role = after.data_access_role
        if after.data_access and role and role in observed.missing_roles:
            error = (
                f"the Keystone role {role!r} does not exist; nothing was granted. Operations "
                f"create it (openstack role create {role})"
            )
        else:
            report = apply_delta(prov, pilot_id, before, after, credential_id, backend, observed)
            done, error = list(report.done), (None if report.ok else report.error)
    except CloudError as exc:
        error = str(exc)
    with session_scope(prov.engine) as session:
        request = session.get(ChangeRequest, request_id)
        request.status = "failed" if error else "applied"
        request.error = error[:2000] if error else None
        if error and request.kind == "data_access":
            tenant = session.get(Tenant, pilot_id)
            tenant.data_access_granted_at = None  # not granted: the switch may try again
            session.add(tenant)
        session.add(request)
        audit.record(
            session,
            actor=by,
            action=f"change_request.{request.status}",
            subject=pilot_id,
            details={"request": request_id, "kind": request.kind, "applied": done, "error": error},
        )
        return Decision(as_dict(request), tuple(done))


def _reread(prov: Provisioner, request_id: int) -> dict[str, Any]:
    with session_scope(prov.engine) as session:
        return as_dict(session.get(ChangeRequest, request_id))
