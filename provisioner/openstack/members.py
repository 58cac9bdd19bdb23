"""Observing a tenant's member in Keystone and Nova, and trying a credential.

``observe_member`` reads what ``provisioner.members.plan_member`` needs: the
member's user (by its ``<project>:<email>`` name in the shared domain), its
group membership, its reader role on the project, its application credential
and its keypair.  ``token_works`` asks Keystone for a token with an
application credential: what ``tenants verify`` uses to prove a removed
member's credential is refused.

What this module deliberately does not do: change anything.
"""

from __future__ import annotations

from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as os_exceptions

from provisioner.members import READER_ROLE, DesiredMember, ObservedMember
from provisioner.model import DesiredTenant, ForeignResource, owner_of
from provisioner.openstack.connection import Admin, connect_with, first


def observe_member(admin: Admin, desired: DesiredTenant, member: DesiredMember) -> ObservedMember:
    ident = admin.conn.identity
    domain = admin.cached_domain(desired)
    if domain is None:
        return ObservedMember()
    project = first(ident.projects(name=desired.project, domain_id=domain.id))
    if project is None:
        return ObservedMember()
    owner = owner_of(tuple(project.tags or ()))
    if owner != desired.pilot_id:
        # Nothing inside another pilot's project is read, let alone planned.
        found = ForeignResource("project", desired.project, project.id, owner)
        return ObservedMember(foreign=(found,), project_id=project.id)
    user = first(ident.users(name=member.user, domain_id=domain.id))
    if user is None:
        return ObservedMember(project_id=project.id)
    group = first(ident.groups(name=desired.group, domain_id=domain.id))
    in_group = bool(group and ident.check_user_in_group(user, group))
    reader = admin.role(READER_ROLE)
    has_reader = bool(reader and ident.validate_user_has_project_role(project, user, reader))
    try:
        cred = first(ident.application_credentials(user, name=member.app_credential))
        credential_id = cred.id if cred else None
    except os_exceptions.ForbiddenException:
        credential_id = admin.ids.get(f"appcred:{user.id}")
    keypair = None
    if member.keypair:
        keypair = _keypair(admin, member.keypair, user.id)
    return ObservedMember(
        project_id=project.id,
        user_id=user.id,
        in_group=in_group,
        has_reader_role=has_reader,
        app_credential_id=credential_id,
        keypair=keypair,
    )


def _keypair(admin: Admin, name: str, user_id: str) -> str | None:
    try:
        found: Any = admin.conn.compute.get_keypair(name, user_id=user_id)
    except os_exceptions.NotFoundException:
        return None
    return found.name if found else None


def token_works(admin: Admin, credential: dict[str, str]) -> bool:
    """Whether Keystone issues a token for this application credential now."""
    conn = connect_with(
        {
            "auth_url": admin.auth_url(),
            "application_credential_id": credential["id"],
            "application_credential_secret": credential["secret"],
        },
        admin.region(),
        auth_type="v3applicationcredential",
    )
    try:
        # keystoneauth's own call: openstacksdk's ``authorize`` hides the status.
        conn.session.get_token()
    except (ks_exceptions.Unauthorized, ks_exceptions.NotFound, ks_exceptions.Forbidden):
        return False
    finally:
        conn.close()
    return True
