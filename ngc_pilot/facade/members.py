"""Members for every interface: list, add, remove a tenant's researchers.

One transaction per read; adding and removing reach the cloud through the
provisioner the application context makes, and a cloud failure becomes
ngc-pilot's own transient or permanent error.  A view never holds a secret:
only the bundle's path and whether it was encrypted.
"""

from __future__ import annotations

from typing import Any

from ngc_pilot import members
from ngc_pilot.db import session_scope
from ngc_pilot.facade.base import FacadeBase, cloud_errors
from ngc_pilot.members import MemberOutcome


class MembersArea(FacadeBase):
    def members(self, pilot_id: str, *, include_removed: bool = False) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return members.list_members(session, pilot_id, include_removed=include_removed)

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
    ) -> MemberOutcome:
        with cloud_errors():
            return members.add_member(
                self._prov(),
                pilot_id,
                email,
                name=name,
                role=role,
                language=language,
                age_recipient=age_recipient,
                ssh_key=ssh_key,
            )

    def remove_member(
        self, pilot_id: str, email: str, *, reason: str | None = None
    ) -> MemberOutcome:
        with cloud_errors():
            return members.remove_member(self._prov(), pilot_id, email, reason=reason)
