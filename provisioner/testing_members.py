"""Members in the in-memory cloud (``provisioner.testing.InMemoryCloud``).

A mixin, so the double's member behaviour reads in one place: users named
``<project>:<email>``, group membership and the reader role, one
application credential per user whose secret ``token_works`` checks, and
keypairs.  Real Keystone behaviour is tested against devcloud; this models
only what ``plan_member`` reads and the member steps write.  What it
deliberately does not do: model anything of the tenant itself.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from provisioner.backend import CloudError, StepResult
from provisioner.members import DesiredMember, ObservedMember
from provisioner.model import Change, DesiredTenant, ForeignResource, owner_of
from provisioner.secrets import Secret


@dataclass
class _MemberUser:
    id: str
    project: str
    groups: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    credential: str | None = None  # id
    keypair: str | None = None


class MembersInMemory:
    """Member users, credentials and keypairs kept in dictionaries."""

    def _member_state(self) -> tuple[dict[str, _MemberUser], dict[str, str]]:
        if not hasattr(self, "_member_users"):
            self._member_users: dict[str, _MemberUser] = {}
            self._live_credentials: dict[str, str] = {}  # id -> secret
            self._member_ids = (f"m-{n}" for n in itertools.count(1))
        return self._member_users, self._live_credentials

    @property
    def member_users(self) -> dict[str, _MemberUser]:
        """Member users by name (for tests' assertions)."""
        return self._member_state()[0]

    def observe_member(self, desired: DesiredTenant, member: DesiredMember) -> ObservedMember:
        users, _ = self._member_state()
        tenant = self.tenants.get(desired.project)  # type: ignore[attr-defined]
        if tenant is None:
            return ObservedMember()
        owner = owner_of(tenant.tags)
        if owner != desired.pilot_id:
            found = ForeignResource("project", desired.project, tenant.project_id, owner)
            return ObservedMember(foreign=(found,), project_id=tenant.project_id)
        u = users.get(member.user)
        if u is None:
            return ObservedMember(project_id=tenant.project_id)
        return ObservedMember(
            project_id=tenant.project_id,
            user_id=u.id,
            in_group=desired.group in u.groups,
            has_reader_role="reader" in u.roles,
            app_credential_id=u.credential,
            keypair=u.keypair,
        )

    def token_works(self, credential: dict[str, str]) -> bool:
        _, live = self._member_state()
        if credential.get("id") in live:
            return live[credential["id"]] == credential.get("secret")
        # The tenant's own (PI) credential is modelled by the tenant, not here.
        return False

    def member_step(self, change: Change, desired: DesiredTenant) -> StepResult:
        users, live = self._member_state()
        name = str(change.detail["user"])
        kind, action = change.resource, change.action
        if action == "delete":
            u = users.get(name)
            if u is None:
                return StepResult(change.detail.get("id"))  # type: ignore[arg-type]
            if kind == "member_user":
                if u.credential:
                    live.pop(u.credential, None)
                users.pop(name)
            elif kind == "member_application_credential" and u.credential:
                live.pop(u.credential, None)
                u.credential = None
            elif kind == "member_keypair":
                u.keypair = None
            return StepResult(u.id)
        if kind == "member_user":
            users[name] = _MemberUser(next(self._member_ids), desired.project)
            return StepResult(users[name].id)
        u = users.get(name)
        if u is None:
            raise CloudError(f"{change.step} failed: no user {name}")
        if kind == "member_group":
            u.groups.add(desired.group)
        elif kind == "member_role":
            u.roles.add(str(change.detail["role"]))
        elif kind == "member_keypair":
            u.keypair = change.name
        elif kind == "member_application_credential":
            if u.credential:
                live.pop(u.credential, None)
            u.credential = next(self._member_ids)
            live[u.credential] = f"secret-{u.credential}"
            return StepResult(
                u.credential, secret=Secret(live[u.credential]), extra={"user_id": u.id}
            )
        return StepResult(u.id)
