"""Deciding a change request: approved or rejected once, with a reason; approvals applied.

Why this exists: operations decide a pilot's request with a reason that is
kept.  The decision, the notice to the PI (an ``OutboxMessage``, Danish, see
:mod:`ngc_pilot.request_notices`) and the audit entry commit together, and
only one decider wins (the status changes only while ``pending``).  An
approved extension or resize changes the pilot's end or the tenant's size
and is applied through the provisioner's plan, as provisioning is: only the
changes the decision adds (new quotas; the credential renewed to expire with
the new end; a tenant suspended because its period ended is resumed when the
new end is today or later).  Resizes and extensions pass the capacity gate
first; one that does not fit is refused with the numbers and nothing changes.  Data access is
granted to the tenant's group as the data-access switch grants it.

Deliberately not here: adding a member's Keystone user (the members service,
``ngc-pilot members add``: an approved ``add_member`` request records the
decision and says so in its note), sending e-mail (the outbox), filing
(:mod:`ngc_pilot.change_requests`) and any interface wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from ngc_pilot import audit
from ngc_pilot.change_requests import as_dict
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.models import Application, OutboxMessage, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.provisioning_gates import check_capacity
from ngc_pilot.request_models import ChangeRequest
from ngc_pilot.request_notices import decision_notice
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import apply_delta
from ngc_pilot.tenant_state import set_state
from policies.problems import Problem
from provisioner.backend import CloudError
from provisioner.model import DesiredTenant

# Tenants whose cloud is changed at once on approval; a planned tenant gets the
# change on its provisioning run; a torn-down one takes no requests.
LIVE_STATES = ("provisioning", "active", "suspended", "failed")


@dataclass(frozen=True)
class Decision:
    """What deciding a request did: its status afterwards and what was applied."""

    request: dict[str, Any]
    applied: tuple[str, ...] = ()


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


def approve(
    prov: Provisioner, request_id: int, *, by: str, reason: str, today: date | None = None
) -> Decision:
    """Approve a pending request and apply it; the request ends applied, failed or approved.

    The decision (rows changed, notice, audit) commits before the cloud is
    touched; a cloud failure then leaves the request ``failed`` with the
    error, and the reconcile job or a re-run of ``provision`` converges the
    tenant to the decided state.
    """
    reason = _reason(reason)
    day = today or utcnow().date()
    resumed_from: datetime | None = None  # set when an extension resumes a suspended tenant
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
            if tenant is not None and tenant.state == "suspended" and wanted >= day:
                # Suspended because its period ended: the extension gives it back.
                resumed_from = tenant.suspended_at
                tenant.suspended_at, tenant.updated_at = None, utcnow()
                session.add(tenant)
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
    return _apply(prov, request_id, before, after, credential_id, by, resumed_from)


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
    # A cloud that cannot be read raises CloudError: the decision rolls back unwritten.
    verdicts = check_capacity(session, prov, [resized], prov.backend_factory())
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
    resumed_from: datetime | None,
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
        tenant = session.get(Tenant, pilot_id)
        if error and request.kind == "data_access":
            tenant.data_access_granted_at = None  # not granted: the switch may try again
        if error and resumed_from is not None:
            tenant.suspended_at = resumed_from  # still suspended; reconcile keeps it so
        session.add(tenant)
        session.add(request)
        audit.record(
            session,
            actor=by,
            action=f"change_request.{request.status}",
            subject=pilot_id,
            details={"request": request_id, "kind": request.kind, "applied": done, "error": error},
        )
        decided = Decision(as_dict(request), tuple(done))
    if resumed_from is not None and not error:
        set_state(prov, pilot_id, "active")  # audited as tenant.active
    return decided


def _reread(prov: Provisioner, request_id: int) -> dict[str, Any]:
    with session_scope(prov.engine) as session:
        return as_dict(session.get(ChangeRequest, request_id))
