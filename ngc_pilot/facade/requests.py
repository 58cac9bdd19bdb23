"""Change requests for every interface: list, file, approve, reject.

One transaction per read; deciding goes through :mod:`ngc_pilot.request_decisions`,
which applies an approved extension or resize through the provisioner (a
cloud failure becomes ngc-pilot's own error).  Views are frozen and already
loaded.  Nothing here words an error for a particular interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ngc_pilot import change_requests, request_decisions
from ngc_pilot.db import session_scope
from ngc_pilot.facade.base import FacadeBase, cloud_errors


@dataclass(frozen=True)
class RequestRow:
    id: int
    pilot_id: str
    kind: str  # extend | resize | add_member | data_access
    value: str
    justification: str
    filed_by: str
    filed_at: str  # ISO 8601, UTC
    age_seconds: int
    status: str  # pending | approved | rejected | applied | failed
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    note: str | None
    error: str | None
    member: dict[str, Any] | None = None  # add_member: {"name", "role", "language"}

    @classmethod
    def of(cls, row: dict[str, Any]) -> RequestRow:
        return cls(
            id=row["id"],
            pilot_id=row["pilot"],
            kind=row["kind"],
            value=row["value"],
            justification=row["justification"],
            filed_by=row["filed_by"],
            filed_at=row["filed_at"],
            age_seconds=row["age_seconds"],
            status=row["status"],
            decided_by=row["decided_by"],
            decided_at=row["decided_at"],
            reason=row["reason"],
            note=row["note"],
            error=row["error"],
            member=row.get("member"),
        )

    def as_dict(self) -> dict[str, Any]:
        """The request as plain data, named as ``change_requests.as_dict`` names it."""
        return {
            "id": self.id,
            "pilot": self.pilot_id,
            "kind": self.kind,
            "value": self.value,
            "justification": self.justification,
            "filed_by": self.filed_by,
            "filed_at": self.filed_at,
            "age_seconds": self.age_seconds,
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "reason": self.reason,
            "note": self.note,
            "error": self.error,
            "member": dict(self.member) if self.member is not None else None,
        }


@dataclass(frozen=True)
class RequestDecision:
    """What approving a request did: the request afterwards and the steps applied."""

    request: RequestRow
    applied: tuple[str, ...] = ()


class RequestsArea(FacadeBase):
    def requests(
        self, *, pilot_id: str | None = None, status: str | None = None
    ) -> list[RequestRow]:
        """Change requests, oldest first, optionally of one pilot or in one status."""
        with session_scope(self.engine) as session:
            found = change_requests.list_requests(session, pilot_id=pilot_id, status=status)
            return [RequestRow.of(change_requests.as_dict(r)) for r in found]

    def file_request(
        self,
        pilot_id: str,
        kind: str,
        value: str,
        justification: str,
        *,
        member_name: str | None = None,
        member_role: str | None = None,
        member_language: str | None = None,
    ) -> RequestRow:
        """Record a pending change request for the pilot (audited).

        ``member_*``: who an ``add_member`` request's member is (name, role, language)."""
        prov = self._prov()
        with session_scope(self.engine) as session:
            request = change_requests.file_request(
                session,
                prov.tenant_policy,
                pilot_id=pilot_id,
                kind=kind,
                value=value,
                justification=justification,
                filed_by=self.actor,
                lifecycle_policy=prov.lifecycle(),
                member_name=member_name,
                member_role=member_role,
                member_language=member_language,
            )
            return RequestRow.of(change_requests.as_dict(request))

    def approve_request(self, request_id: int, reason: str, *, by: str | None = None) -> RequestRow:
        """Approve and apply a pending request; the PI is told."""
        return self.approve_request_applying(request_id, reason, by=by).request

    def approve_request_applying(
        self, request_id: int, reason: str, *, by: str | None = None
    ) -> RequestDecision:
        """Approve and apply a pending request, with the steps applied; the PI is told.
        A failure to apply leaves the request ``failed`` (its ``error`` says why)."""
        with cloud_errors():
            decision = request_decisions.approve(
                self._prov(), request_id, by=by or self.actor, reason=reason
            )
        return RequestDecision(RequestRow.of(decision.request), tuple(decision.applied))

    def reject_request(self, request_id: int, reason: str, *, by: str | None = None) -> RequestRow:
        """Reject a pending request; the PI is told."""
        return RequestRow.of(
            request_decisions.reject(self._prov(), request_id, by=by or self.actor, reason=reason)
        )
