"""Deciding a change request: approved or rejected once, with a reason; approvals applied.

Why this exists: operations decide a pilot's request with a reason that is
kept.  The decision, the notice to the PI (the ``request_decided`` template
in the PI's language, :mod:`ngc_pilot.request_notices`) and the audit entry
commit together, and only one decider wins (the status changes only while ``pending``).  An
approved extension or resize changes the pilot's end or the tenant's size
and is applied through the provisioner's plan, as provisioning is: only the
changes the decision adds (new quotas; the credential renewed to expire with
the new end; a tenant suspended because its period ended is resumed when the
new end is today or later).  Resizes and extensions pass the capacity gate
first; one that does not fit is refused with the numbers and nothing changes.

An approved ``add_member`` request adds the member through the members
service (:func:`ngc_pilot.members.add_member`, with the name, role and
language filed with it, its own transactions and
notice) after the decision commits; the request ends applied, or failed with
the error.  An approved ``data_access`` request follows the per-pilot rule
(:mod:`ngc_pilot.lifecycle.data_access`): refused for a pilot whose data
sources include no national genome data; otherwise the pilot's own
data-access date becomes the decision day and the tenant is granted now.

Deliberately not here: the members' cloud work (the members service), sending
e-mail (the outbox), filing (:mod:`ngc_pilot.change_requests`) and any
interface wording.  Just over 400 lines because every kind of approval shares
the claim, notice and outcome-recording helpers, which are private here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from ngc_pilot import audit, mail, members
from ngc_pilot.change_requests import as_dict
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.lifecycle.data_access import no_national_data
from ngc_pilot.models import Application, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.provisioning_gates import check_capacity
from ngc_pilot.request_models import ChangeRequest
from ngc_pilot.request_notices import decision_context
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


def _notify(session: Session, prov: Provisioner, request: ChangeRequest) -> None:
    """Queue the PI's ``request_decided`` notice in their language (key as before)."""
    pilot = session.get(Pilot, request.pilot_id)
    app = session.get(Application, pilot.application_id)
    language = mail.pi_language(app.document)
    mail.queue(
        session,
        key=f"request-decided:{request.id}",
        kind="request_decided",
        recipient=app.pi_email,
        language=language,
        context=decision_context(
            request,
            language,
            pi_name=app.pi_name,
            support_contact=prov.tenant_policy.tenancy.support_contact,
        ),
        pilot_id=request.pilot_id,
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
        _notify(session, prov, request)
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
        elif request.kind == "data_access":
            _grant_from(session, prov, request, pilot, app, tenant, day, by)
        _claim(session, request, "approved", by, reason)
        if request.kind == "add_member":
            # Overwritten with applied/failed once the members service has run; left
            # standing only if the process stops in between.
            request.note = (
                f"approved; if this stays approved, add the member with "
                f"`ngc-pilot members add {pilot.id} {request.value}"
                f" --role {request.member_role or 'member'}`"
            )
        elif not live:
            request.note = "approved; the tenant gets it when it is provisioned"
        session.add(request)
        _notify(session, prov, request)
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
        kind, pilot_id, value = request.kind, request.pilot_id, request.value
        member = {
            "name": request.member_name,
            "role": request.member_role or "member",
            "language": request.member_language or "da",
        }
    if kind == "add_member":
        return _add_member(prov, request_id, pilot_id, value, by, member)
    if before is None or after is None:
        return Decision(_reread(prov, request_id))
    return _apply(prov, request_id, before, after, credential_id, by, resumed_from)


def _grant_from(
    session: Session,
    prov: Provisioner,
    request: ChangeRequest,
    pilot: Pilot,
    app: Application,
    tenant: Tenant | None,
    day: date,
    by: str,
) -> None:
    """Data access by request follows the per-pilot rule: never for a pilot without
    national genome data; otherwise the pilot's own date becomes the decision day and
    the tenant is granted now, as the switch grants it."""
    why_not = no_national_data(prov.lifecycle(), app)
    if why_not:
        raise InputError(
            [Problem("request", "pilot", pilot.id, f"{why_not}; reject the request instead")]
        )
    before = pilot.data_access_date
    pilot.data_access_date, pilot.updated_at = day, utcnow()
    session.add(pilot)
    audit.record(
        session,
        actor=by,
        action="pilot.data_access_date_set",
        subject=pilot.id,
        reason=f"change request {request.id} approved",
        details={
            "pilot": pilot.id,
            "from": before.isoformat() if before else None,
            "to": day.isoformat(),
            "date": day.isoformat(),
        },
    )
    if tenant is not None and tenant.data_access_granted_at is None:
        tenant.data_access_granted_at = tenant.updated_at = utcnow()
        session.add(tenant)


def _add_member(
    prov: Provisioner,
    request_id: int,
    pilot_id: str,
    email: str,
    by: str,
    member: dict[str, Any],
) -> Decision:
    """Add the approved member (with the request's name, role and language) through the
    members service; the request ends applied or failed."""
    done: list[str] = []
    error: str | None = None
    try:
        outcome = members.add_member(
            prov,
            pilot_id,
            email,
            name=member["name"],
            role=member["role"],
            language=member["language"],
            reason=f"change request {request_id}",
        )
        done = list(outcome.report.done)
        if outcome.state != "active":
            error = outcome.report.error or "the member was not added"
    except (InputError, CloudError) as exc:
        error = str(exc)
    return _finish(prov, request_id, pilot_id, done, error, by)


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
    decided = _finish(prov, request_id, pilot_id, done, error, by, resumed_from)
    if resumed_from is not None and not error:
        set_state(prov, pilot_id, "active")  # audited as tenant.active
    return decided


def _finish(
    prov: Provisioner,
    request_id: int,
    pilot_id: str,
    done: list[str],
    error: str | None,
    by: str,
    resumed_from: datetime | None = None,
) -> Decision:
    """Record what applying the approved request came to: applied, or failed with the error."""
    with session_scope(prov.engine) as session:
        request = session.get(ChangeRequest, request_id)
        request.status = "failed" if error else "applied"
        request.error = error[:2000] if error else None
        if request.kind == "add_member":
            request.note = (
                f"the member was not added: {error}"[:2000]
                if error
                else "the member was added through the members service"
            )
        tenant = session.get(Tenant, pilot_id)
        if tenant is not None:
            if error and request.kind == "data_access":
                tenant.data_access_granted_at = None  # not granted: the switch may try again
            if error and resumed_from is not None:
                tenant.suspended_at = resumed_from  # still suspended; reconcile keeps it so
            session.add(tenant)
        if request.kind == "data_access" and not error:
            audit.record(
                session,
                actor=by,
                action="tenant.data_access_granted",
                subject=pilot_id,
                reason=f"change request {request_id} approved",
                details={"role": prov.lifecycle().data_access.role, "applied": done},
            )
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
