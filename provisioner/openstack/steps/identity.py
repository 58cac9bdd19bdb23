"""Keystone steps: domain, project, group, roles, the PI's user and credential.

Each handler does one planned change and returns the resource's id.  Every
handler acting inside the project looks the project up through
:meth:`Admin.domain_and_project`, which refuses a project another pilot owns.
What a step creates is remembered (:meth:`Admin.remember`) and used by the
steps after it instead of being read again; the PI's user keeps the password
it was created with in this process only, so its credential is made without
a password change (and without waiting out Keystone's token revocation).

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
from provisioner.openstack.connection import Admin, connect_with, first
from provisioner.secrets import Secret


def create_domain(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = admin.conn.identity.create_domain(name=desired.domain, description="ngc-pilot tenants")
    admin.cache[f"domain:{desired.domain}"] = domain
    return StepResult(domain.id)


def create_project(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = _domain(admin, desired)
    project = admin.conn.identity.create_project(
        name=desired.project,
        domain_id=domain.id,
        description=desired.description,
        tags=list(desired.tags),
        is_enabled=change.detail.get("enabled", True),
    )
    admin.remember(f"project:{desired.project}", project)
    # Neutron makes a project's "default" security group on its first network
    # or group; the plan's chains would make both at once, and the one that
    # loses the race to make the default group waits (0.5-1 s here).  Listing
    # the project's default group makes it now, before the chains start.
    # Its ingress rules are kept for the step that removes them (no second look).
    for group in admin.conn.network.security_groups(project_id=project.id, name="default"):
        admin.remember(f"default_group:{project.id}", group)
    return StepResult(project.id)


def update_project(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    attrs = dict(change.detail)
    if "enabled" in attrs:
        attrs["is_enabled"] = attrs.pop("enabled")
    admin.remember(
        f"project:{desired.project}", admin.conn.identity.update_project(project, **attrs)
    )
    return StepResult(project.id)


def create_group(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = _domain(admin, desired)
    group = admin.conn.identity.create_group(
        name=desired.group, domain_id=domain.id, description=f"Members of {desired.project}"
    )
    admin.remember(f"group:{desired.group}", group)
    return StepResult(group.id)


def _domain(admin: Admin, desired: DesiredTenant) -> Any:
    domain = admin.domain(desired)
    if domain is None:
        raise CloudError(f"domain {desired.domain} is missing")
    return domain


def _group(admin: Admin, domain: Any, name: str) -> Any:
    ident = admin.conn.identity
    return admin.known_or(
        f"group:{name}", lambda: first(ident.groups(name=name, domain_id=domain.id))
    )


def _user(admin: Admin, domain: Any, name: str) -> Any:
    ident = admin.conn.identity
    return admin.known_or(
        f"user:{name}", lambda: first(ident.users(name=name, domain_id=domain.id))
    )


def _role_and_group(admin: Admin, change: Change, desired: DesiredTenant) -> tuple[Any, Any, Any]:
    domain, project = admin.domain_and_project(desired, change.step)
    group = _group(admin, domain, change.detail.get("group", desired.group))
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
    password = Secret(pysecrets.token_urlsafe(32))
    user = admin.conn.identity.create_user(
        name=desired.pi_user,
        domain_id=domain.id,
        email=desired.pi_email,
        default_project_id=project.id,
        password=password.reveal(),
        is_enabled=True,
        description=f"Principal investigator of {desired.project}",
    )
    admin.remember(f"user:{desired.pi_user}", user)
    # Kept in this process only, for the credential step that follows; never
    # stored (a later run resets it when it makes a credential).
    admin.cache[f"password:{user.id}"] = password
    return StepResult(user.id)


def create_group_membership(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    domain = _domain(admin, desired)
    user = _user(admin, domain, desired.pi_user)
    group = _group(admin, domain, desired.group)
    admin.conn.identity.add_user_to_group(user, group)
    return StepResult(user.id)


def create_application_credential(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    domain, project = admin.domain_and_project(desired, change.step)
    user = _user(admin, domain, desired.pi_user)
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
        password=admin.cache.pop(f"password:{user.id}", None),
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
                fresh=True,
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
    *,
    fresh: bool = False,
) -> Any:
    """The credential made as the user; ``fresh``: the user was created in this
    process, so it has no credential of that name to replace (none is looked for)."""
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
        existing = None if fresh else as_user.identity.find_application_credential(user_id, name)
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
