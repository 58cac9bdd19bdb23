"""Keystone and Nova steps for a tenant's members: user, group or reader role, credential, keypair.

Each handler does one change planned by :mod:`provisioner.members`; the
change's detail names the member's user (``<project>:<email>``).  Deleting
tolerates what is gone already, so a removal re-run after a crash converges;
deleting the user is what revokes everything at once (Keystone removes its
group memberships, role assignments and application credentials with it).

What this module deliberately does not do: decide what to change, or write
the member's bundle (the service does, from the returned secret).
"""

from __future__ import annotations

import secrets as pysecrets
from datetime import datetime
from typing import Any

from openstack import exceptions as os_exceptions

from provisioner.backend import CloudError, StepResult
from provisioner.model import Change, DesiredTenant
from provisioner.openstack.connection import Admin
from provisioner.openstack.steps.identity import credential_as_user
from provisioner.secrets import Secret


def _user(admin: Admin, change: Change, desired: DesiredTenant) -> tuple[Any, Any, Any]:
    domain, project = admin.domain_and_project(desired, change.step)
    user = admin.conn.identity.find_user(
        str(change.detail["user"]), domain_id=domain.id, ignore_missing=False
    )
    return domain, project, user


def create_member_user(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain, project = admin.domain_and_project(desired, change.step)
    password = Secret(pysecrets.token_urlsafe(32))
    user = admin.conn.identity.create_user(
        name=str(change.detail["user"]),
        domain_id=domain.id,
        email=str(change.detail["email"]),
        default_project_id=project.id,
        password=password.reveal(),
        is_enabled=True,
        description=f"Member of {desired.project}",
    )
    # Kept in this process only, for the credential step that follows; never stored.
    admin.cache[f"password:{user.id}"] = password
    return StepResult(user.id)


def create_member_group(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain, _, user = _user(admin, change, desired)
    group = admin.conn.identity.find_group(desired.group, domain_id=domain.id, ignore_missing=False)
    admin.conn.identity.add_user_to_group(user, group)
    return StepResult(user.id)


def create_member_role(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project, user = _user(admin, change, desired)
    name = str(change.detail["role"])
    role = admin.role(name)
    if role is None:
        raise CloudError(
            f"{change.step} failed: the Keystone role {name!r} does not exist; "
            f"operations create it (openstack role create {name})"
        )
    admin.conn.identity.assign_project_role_to_user(project, user, role)
    return StepResult(user.id)


def create_member_application_credential(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    domain, project, user = _user(admin, change, desired)
    credential = credential_as_user(
        admin,
        user_name=user.name,
        user_id=user.id,
        domain_id=domain.id,
        project_id=project.id,
        name=str(change.detail["credential"]),
        role=str(change.detail["role"]),
        expires_at=datetime.fromisoformat(str(change.detail["expires_at"])),
        description=f"ngc-pilot member credential for {desired.project}",
        password=admin.cache.pop(f"password:{user.id}", None),
    )
    admin.ids[f"appcred:{user.id}"] = credential.id
    return StepResult(
        credential.id,
        secret=Secret(credential.secret),
        extra={"user_id": user.id, "project_id": project.id},
    )


def create_member_keypair(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, _, user = _user(admin, change, desired)
    keypair = admin.conn.compute.create_keypair(
        name=change.name, public_key=str(change.detail["public_key"]), user_id=user.id
    )
    return StepResult(keypair.id)


def delete_member_keypair(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    user_id = change.detail.get("id")
    try:
        admin.conn.compute.delete_keypair(change.name, ignore_missing=True, user_id=user_id)
    except os_exceptions.NotFoundException:
        pass
    return StepResult(change.name)


def delete_member_application_credential(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    try:
        admin.conn.identity.delete_application_credential(
            str(change.detail["user_id"]), str(change.detail["id"]), ignore_missing=True
        )
    except os_exceptions.ForbiddenException:
        pass  # the user is deleted next, which removes its credentials
    return StepResult(str(change.detail["id"]))


def delete_member_user(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.identity.delete_user(str(change.detail["id"]), ignore_missing=True)
    return StepResult(str(change.detail["id"]))
