"""A tenant's members in the cloud: what each should have, what it has, the changes between.

A member is part of a tenant's desired state: their own Keystone user (named
``<project>:<email>``, so one person in two pilots has two users and removing
them from one leaves the other), in the project's members group when their
role is ``member``, or holding the ``reader`` role on the project directly
when it is ``reader`` (the group carries the member role, so a reader is never
in it), and their own application credential expiring with the tenant.
Removal deletes the credential and the user, which takes every group
membership and role assignment with it: all access ends at once.

Pure, like :mod:`provisioner.plan`: ``plan_member`` and ``plan_member_removal``
diff a :class:`DesiredMember` against an :class:`ObservedMember` (which also
says whether the project is this pilot's: a member is never added to another
pilot's project, and their removal never touches one); the steps
carry everything a backend needs in their detail.  :class:`MemberCloud` is
the part of a backend that members need.  What this module deliberately does
not do: any I/O, or keep the member roster (``ngc_pilot.members`` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from provisioner.backend import CloudError, StepResult
from provisioner.model import Change, DesiredTenant, ForeignResource, ObservedTenant, Plan
from provisioner.plan import refuse_foreign

READER_ROLE = "reader"
ROLES = ("member", "reader")


@dataclass(frozen=True)
class DesiredMember:
    pilot_id: str
    email: str
    role: str  # member | reader
    user: str  # Keystone user name: "<project>:<email>"
    group: str
    keystone_role: str  # the role the credential carries
    app_credential: str
    expires_at: datetime
    ssh_key: str | None = None  # an OpenSSH public key line, or None
    keypair: str | None = None  # the Nova keypair's name when there is a key


@dataclass(frozen=True)
class ObservedMember:
    """What the cloud has for one member; ``foreign``: the project is not this pilot's."""

    foreign: tuple[ForeignResource, ...] = ()
    project_id: str | None = None
    user_id: str | None = None
    in_group: bool = False
    has_reader_role: bool = False
    app_credential_id: str | None = None
    keypair: str | None = None  # the name of the member's keypair, if it exists


def desired_member(
    desired: DesiredTenant, email: str, role: str, ssh_key: str | None = None
) -> DesiredMember:
    """The member ``email`` of ``desired``'s tenant as they should be (pure)."""
    mail = email.lower()
    user = f"{desired.project}:{mail}"
    return DesiredMember(
        pilot_id=desired.pilot_id,
        email=mail,
        role=role,
        user=user,
        group=desired.group,
        keystone_role=desired.member_role if role == "member" else READER_ROLE,
        app_credential=f"{desired.project}-member",
        expires_at=desired.expires_at,
        ssh_key=ssh_key,
        # Nova allows letters, digits, "-", "_" and spaces in keypair names.
        keypair=re.sub(r"[^A-Za-z0-9_-]", "-", f"{desired.project}-{mail}".replace("@", "-at-"))
        if ssh_key
        else None,
    )


def _detail(member: DesiredMember, **more: object) -> dict[str, object]:
    return {"email": member.email, "user": member.user, **more}


def plan_member(
    desired: DesiredTenant,
    member: DesiredMember,
    have: ObservedMember,
    *,
    credential_delivered: bool,
) -> Plan:
    """The changes that give ``member`` their access (nothing when they have it).

    ``credential_delivered`` is False when the member's bundle does not hold
    the credential the cloud has (a crash before the bundle was written): a
    secret cannot be read back, so the credential is made anew.
    """
    refuse_foreign(desired, ObservedTenant(foreign=have.foreign), "add a member to")
    if have.project_id is None:
        raise CloudError(f"project {desired.project} is missing: provision the tenant first")
    changes: list[Change] = []
    add = changes.append
    if have.user_id is None:
        add(Change("create", "member_user", member.user, _detail(member)))
    if member.role == "member" and not have.in_group:
        add(Change("create", "member_group", member.user, _detail(member, group=member.group)))
    if member.role == READER_ROLE and not have.has_reader_role:
        add(Change("create", "member_role", member.user, _detail(member, role=READER_ROLE)))
    if not desired.suspended and (have.app_credential_id is None or not credential_delivered):
        add(
            Change(
                "create",
                "member_application_credential",
                member.user,
                _detail(
                    member,
                    credential=member.app_credential,
                    role=member.keystone_role,
                    expires_at=member.expires_at.isoformat(),
                ),
            )
        )
    if member.ssh_key and member.keypair and have.keypair is None:
        add(
            Change(
                "create",
                "member_keypair",
                member.keypair,
                _detail(member, public_key=member.ssh_key),
            )
        )
    return Plan(desired.pilot_id, tuple(changes))


def plan_member_removal(
    desired: DesiredTenant, member: DesiredMember, have: ObservedMember
) -> Plan:
    """Everything of ``member`` in reverse order: keypair, credential, then the user."""
    refuse_foreign(desired, ObservedTenant(foreign=have.foreign), "remove a member from")
    changes: list[Change] = []
    if have.keypair:
        changes.append(
            Change("delete", "member_keypair", have.keypair, _detail(member, id=have.user_id))
        )
    if have.app_credential_id and have.user_id:
        changes.append(
            Change(
                "delete",
                "member_application_credential",
                member.user,
                _detail(member, id=have.app_credential_id, user_id=have.user_id),
            )
        )
    if have.user_id:
        changes.append(
            Change("delete", "member_user", member.user, _detail(member, id=have.user_id))
        )
    return Plan(desired.pilot_id, tuple(changes))


@runtime_checkable
class MemberCloud(Protocol):
    """What a backend does for members: observe one, run a member step, try a credential."""

    def auth_url(self) -> str: ...

    def region(self) -> str | None: ...

    def observe_member(self, desired: DesiredTenant, member: DesiredMember) -> ObservedMember:
        """The member's user, group, role, credential and keypair, and whose the project is."""
        ...

    def execute(self, change: Change, desired: DesiredTenant) -> StepResult: ...

    def token_works(self, credential: dict[str, str]) -> bool:
        """Whether Keystone issues a token for this application credential now."""
        ...
