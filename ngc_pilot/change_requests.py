"""Change requests: a pilot asks for more time, another size, a member or data access.

Why this exists: a researcher who needs more time or more quota has a way to
ask.  A request is filed with a justification and checked first (the pilot
exists, its tenant is not torn down, the date is after the current end, the
size is the policy's and differs from the tenant's, the e-mail address is
well formed and the member's name, role and language are what ``members add``
accepts (and are given only with a member), a resize or data access has a tenant to apply to, data access
only for a pilot with national genome data); any problem
refuses it whole.  Filing is audited.  Also here: reading requests back.

Deliberately not here: deciding and applying (:mod:`ngc_pilot.request_decisions`)
and any interface wording.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot import audit, member_input
from ngc_pilot.db import utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.lifecycle.data_access import no_national_data
from ngc_pilot.models import Application, Pilot, Tenant
from ngc_pilot.request_models import KINDS, STATUSES, ChangeRequest
from policies.lifecycle import LifecyclePolicy
from policies.problems import Problem
from policies.tenancy import TenantPolicy

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


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
        "member": (
            {
                "name": r.member_name,
                "role": r.member_role or "member",
                "language": r.member_language or "da",
            }
            if r.kind == "add_member"
            else None
        ),
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
    lifecycle_policy: LifecyclePolicy | None = None,
    member_name: str | None = None,
    member_role: str | None = None,
    member_language: str | None = None,
) -> ChangeRequest:
    """Record a pending request (audited) after checking it; refused whole on any problem.

    ``member_name``/``member_role``/``member_language``: for ``add_member``
    only, checked as ``members add`` checks them (role ``member`` and
    language ``da`` when not given).

    With ``lifecycle_policy``, a data-access request of a pilot whose data
    sources include no national genome data is refused here (it would never be
    granted); without it, approval refuses it.
    """
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
    member = _checked_member(kind, member_name, member_role, member_language)
    value = _checked_value(tenant_policy, pilot, tenant, kind, value.strip())
    if kind == "data_access" and lifecycle_policy is not None:
        why_not = no_national_data(lifecycle_policy, session.get(Application, pilot.application_id))
        if why_not:
            raise InputError([Problem("request", "pilot", pilot_id, why_not)])
    request = ChangeRequest(
        pilot_id=pilot_id,
        kind=kind,
        value=value,
        justification=justification.strip(),
        filed_by=filed_by,
        **member,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=filed_by,
        action="change_request.filed",
        subject=pilot_id,
        reason=request.justification,
        details={"request": request.id, "kind": kind, "value": value, **member},
    )
    return request


def _checked_member(
    kind: str, name: str | None, role: str | None, language: str | None
) -> dict[str, str | None]:
    """The member's name, role and language of an ``add_member`` request (every problem at once)."""
    given = {"member name": name, "member role": role, "member language": language}
    if kind != "add_member":
        extra = [f for f, v in given.items() if v is not None]
        if extra:
            raise InputError(
                [
                    Problem("request", f, given[f], "only for a member request (--add-member)")
                    for f in extra
                ]
            )
        return {}
    checked = [
        member_input.check_name(name, "request"),
        member_input.check_choice("role", role or "member", member_input.ROLES, "request"),
        member_input.check_choice("language", language or "da", member_input.LANGUAGES, "request"),
    ]
    problems = [
        Problem(c.source, f"member {c.field}", c.value, c.message)
        for c in checked
        if isinstance(c, Problem)
    ]
    if problems:
        raise InputError(problems)
    name_, role_, language_ = checked
    return {"member_name": name_, "member_role": role_, "member_language": language_}  # type: ignore[dict-item]


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
