"""Members for every interface: list, add, remove a tenant's researchers.

One transaction per read; adding and removing reach the cloud through the
provisioner the application context makes, and a cloud failure becomes
ngc-pilot's own transient or permanent error.  A view never holds a secret:
only the bundle's path and whether it was encrypted.  Nothing here words an
error for a particular interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ngc_pilot import member_reads, members
from ngc_pilot.db import session_scope
from ngc_pilot.facade.base import FacadeBase, cloud_errors
from ngc_pilot.members import MemberOutcome


@dataclass(frozen=True)
class MemberChange:
    """What adding or removing a member did: the steps applied, the one that failed."""

    pilot_id: str
    email: str
    state: str
    applied: tuple[str, ...]
    failed_step: str | None  # None: every step done
    error: str | None
    bundle: str | None  # the bundle's path, never its contents
    encrypted: bool
    notice: str | None  # the outbox key queued (None: already queued before)
    seconds: float
    changes: tuple[dict[str, Any], ...] = ()
    kubeconfig: bool = False  # their own kubeconfig is in their bundle

    @property
    def ok(self) -> bool:
        return self.failed_step is None

    @classmethod
    def of(cls, outcome: MemberOutcome) -> MemberChange:
        return cls(
            pilot_id=outcome.pilot_id,
            email=outcome.email,
            state=outcome.state,
            applied=tuple(outcome.report.done),
            failed_step=outcome.report.failed,
            error=outcome.report.error,
            bundle=outcome.bundle,
            encrypted=outcome.encrypted,
            notice=outcome.notice,
            seconds=outcome.seconds,
            changes=tuple(outcome.changes),
            kubeconfig=outcome.kubeconfig,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "email": self.email,
            "state": self.state,
            "changes": list(self.changes),
            "applied": list(self.applied),
            "failed_step": self.failed_step,
            "error": self.error,
            "bundle": self.bundle,
            "encrypted": self.encrypted,
            "kubeconfig": self.kubeconfig,
            "notice": self.notice,
            "seconds": round(self.seconds, 3),
        }


class MembersArea(FacadeBase):
    def members(self, pilot_id: str, *, include_removed: bool = False) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return member_reads.list_members(session, pilot_id, include_removed=include_removed)

    def add_member(
        self,
        pilot_id: str,
        email: str,
        *,
        name: str | None = None,
        role: str = "member",
        language: str = "da",
        age_recipient: str | None = None,
        ssh_key: str | None = None,
    ) -> MemberChange:
        with cloud_errors():
            return MemberChange.of(
                members.add_member(
                    self._prov(),
                    pilot_id,
                    email,
                    name=name,
                    role=role,
                    language=language,
                    age_recipient=age_recipient,
                    ssh_key=ssh_key,
                )
            )

    def remove_member(
        self, pilot_id: str, email: str, *, reason: str | None = None
    ) -> MemberChange:
        with cloud_errors():
            return MemberChange.of(
                members.remove_member(self._prov(), pilot_id, email, reason=reason)
            )
