"""Keystone steps: domain, project, group, roles, the PI's user and credential.

Each handler does one planned change and returns the resource's id.  Every
handler acting inside the project looks the project up through
:meth:`Admin.domain_and_project`, which refuses a project another pilot owns.

What this module deliberately does not do: decide what to change (that is
``provisioner.plan``) or delete anything (``steps.teardown``).
"""

from __future__ import annotations

import secrets as pysecrets
import time
from datetime import datetime
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as os_exceptions

from provisioner.backend import CloudError, StepResult
from provisioner.model import Change, DesiredTenant
from provisioner.openstack.connection import Admin, connect_with
from provisioner.secrets import Secret


def create_domain(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = admin.conn.identity.create_domain(name=desired.domain, description="ngc-pilot tenants")
    return StepResult(domain.id)


def create_project(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = admin.domain(desired)
    project = admin.conn.identity.create_project(
        name=desired.project,
        domain_id=domain.id,
        description=desired.description,
        tags=list(desired.tags),
        is_enabled=change.detail.get("enabled", True),
    )
    return StepResult(project.id)


def update_project(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    attrs = dict(change.detail)
    if "enabled" in attrs:
        attrs["is_enabled"] = attrs.pop("enabled")
    admin.conn.identity.update_project(project, **attrs)
    return StepResult(project.id)


def create_group(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = admin.domain(desired)
    group = admin.conn.identity.create_group(
        name=desired.group, domain_id=domain.id, description=f"Members of {desired.project}"
    )
    return StepResult(group.id)


def _role_and_group(admin: Admin, change: Change, desired: DesiredTenant) -> tuple[Any, Any, Any]:
    domain, project = admin.domain_and_project(desired, change.step)
    group = admin.conn.identity.find_group(
        change.detail.get("group", desired.group), domain_id=domain.id, ignore_missing=False
    )
    name = change.detail.get("role", desired.member_role)
    role = admin.role(name)
    if role is None:
        # Permanent: a global role is operations' to create, with the
        # service policy that gives it meaning.
        raise CloudError(
            f"{change.step} failed: the Keystone role {name!r} does not exist; "
            f"operations create it (openstack role create {name})"
        )
    return project, group, role


def create_role_assignment(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    project, group, role = _role_and_group(admin, change, desired)
    admin.conn.identity.assign_project_role_to_group(project, group, role)
    return StepResult(group.id)


def delete_role_assignment(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    project, group, role = _role_and_group(admin, change, desired)
    admin.conn.identity.unassign_project_role_from_group(project, group, role)
    return StepResult(group.id)


def create_user(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain, project = admin.domain_and_project(desired, change.step)
    user = admin.conn.identity.create_user(
        name=desired.pi_user,
        domain_id=domain.id,
        email=desired.pi_email,
        default_project_id=project.id,
        password=pysecrets.token_urlsafe(32),  # never stored; reset when a credential is made
        is_enabled=True,
        description=f"Principal investigator of {desired.project}",
    )
    return StepResult(user.id)


def create_group_membership(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = admin.domain(desired)
    user = admin.conn.identity.find_user(desired.pi_user, domain_id=domain.id, ignore_missing=False)
    group = admin.conn.identity.find_group(desired.group, domain_id=domain.id, ignore_missing=False)
    admin.conn.identity.add_user_to_group(user, group)
    return StepResult(user.id)


def create_application_credential(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    domain, project = admin.domain_and_project(desired, change.step)
    user = admin.conn.identity.find_user(desired.pi_user, domain_id=domain.id, ignore_missing=False)
    credential = credential_as_user(
        admin,
        user_name=desired.pi_user,
        user_id=user.id,
        domain_id=domain.id,
        project_id=project.id,
        name=desired.app_credential,
        role=desired.member_role,
        expires_at=desired.expires_at,
        description=f"ngc-pilot credential for {desired.project}",
    )
    admin.ids[f"appcred:{desired.project}"] = credential.id
    return StepResult(
        credential.id,
        secret=Secret(credential.secret),
        extra={"user_id": user.id, "project_id": project.id},
    )


def credential_as_user(
    admin: Admin,
    *,
    user_name: str,
    user_id: str,
    domain_id: str,
    project_id: str,
    name: str,
    role: str,
    expires_at: datetime,
    description: str,
    password: Secret | None = None,
) -> Any:
    """A new application credential ``name`` of the user (replacing one of that name).

    Keystone lets only the user create its own credential: give the user a
    fresh one-time password, act as the user once, and forget the password.
    ``password``: the one the user was just created with in this process
    (so no change of password, and no wait for Keystone's token revocation).
    """
    if password is not None:
        try:
            return _as_user(
                admin,
                user_name,
                domain_id,
                project_id,
                user_id,
                password.reveal(),
                name,
                role,
                expires_at,
                description,
            )
        except (os_exceptions.HttpException, ks_exceptions.Unauthorized):
            pass  # fall back to a fresh password
    password = None
    new_password = pysecrets.token_urlsafe(32)
    admin.conn.identity.update_user(user_id, password=new_password)
    # Keystone revokes the user's tokens on a password change with one-second
    # resolution, so a token issued in that same second is refused (401):
    # wait for the next second and try again.
    for attempt in range(4):
        try:
            return _as_user(
                admin,
                user_name,
                domain_id,
                project_id,
                user_id,
                new_password,
                name,
                role,
                expires_at,
                description,
            )
        except os_exceptions.HttpException as exc:
            if getattr(exc, "status_code", None) != 401 or attempt == 3:
                raise
            time.sleep(1.1)
        except ks_exceptions.Unauthorized:
            if attempt == 3:
                raise
            time.sleep(1.1)
    raise CloudError(f"no application credential {name} could be made")  # not reached


def _as_user(
    admin: Admin,
    user_name: str,
    domain_id: str,
    project_id: str,
    user_id: str,
    password: str,
    name: str,
    role: str,
    expires_at: datetime,
    description: str,
) -> Any:
    as_user = connect_with(
        {
            "auth_url": admin.auth_url(),
            "username": user_name,
            "user_domain_id": domain_id,
            "password": password,
            "project_id": project_id,
        },
        admin.region(),
    )
    try:
        existing = as_user.identity.find_application_credential(user_id, name)
        if existing is not None:
            as_user.identity.delete_application_credential(user_id, existing)
        return as_user.identity.create_application_credential(
            user_id,
            name,
            description=description,
            expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%S"),
            roles=[{"name": role}],
            unrestricted=False,
        )
    finally:
        as_user.close()
