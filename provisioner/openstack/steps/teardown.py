"""Teardown steps: everything of a tenant, researchers' servers and volumes included.

Each handler deletes one resource by the id observation found and tolerates
its being gone already (a re-run after a crash converges).  Deleting the
project checks once more that it carries this pilot's tag.

What this module deliberately does not do: find what to delete (observation
and ``provisioner.plan.plan_teardown`` do) or check that nothing is left
(``observe.leftovers``).
"""

from __future__ import annotations

from openstack import exceptions as os_exceptions

from provisioner.backend import StepResult
from provisioner.model import Change, DesiredTenant
from provisioner.openstack.connection import Admin, ensure_owned


def delete_application_credential(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    domain = admin.domain(desired)
    identity = admin.conn.identity
    user = identity.find_user(desired.pi_user, domain_id=domain.id) if domain else None
    if user is not None:
        try:
            identity.delete_application_credential(user, change.detail["id"], ignore_missing=True)
        except os_exceptions.ForbiddenException:
            pass  # the user is deleted next, which removes its credentials
    return StepResult(change.detail["id"])


def delete_server(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    compute = admin.conn.compute
    compute.delete_server(change.detail["id"], ignore_missing=True, force=True)
    server = compute.find_server(change.detail["id"], all_projects=True)
    if server is not None:
        compute.wait_for_delete(server, wait=120)
    return StepResult(change.detail["id"])


def delete_volume(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    storage = admin.conn.block_storage
    volume = storage.find_volume(change.detail["id"], all_projects=True)
    if volume is not None:
        storage.delete_volume(volume, ignore_missing=True, force=True)
        storage.wait_for_delete(volume, wait=120)
    return StepResult(change.detail["id"])


def delete_router_interface(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    try:
        admin.conn.network.remove_interface_from_router(
            change.detail["router"], subnet=change.detail["subnet"]
        )
    except os_exceptions.NotFoundException:
        pass
    return StepResult(change.detail["router"])


def delete_router(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.network.delete_router(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_port(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.network.delete_port(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_subnet(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.network.delete_subnet(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_network(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.network.delete_network(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_security_group(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.network.delete_security_group(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_security_groups_of_project(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    net = admin.conn.network
    for group in list(net.security_groups(project_id=change.detail["project"])):
        net.delete_security_group(group, ignore_missing=True)
    return StepResult(change.detail["project"])


def delete_user(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.identity.delete_user(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_group(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.identity.delete_group(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])


def delete_project(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    project_id = change.detail["id"]
    conn = admin.conn
    try:
        project = conn.identity.get_project(project_id)
    except os_exceptions.NotFoundException:
        return StepResult(project_id)
    ensure_owned(desired, "project", project, change.step)
    # Quotas are rows keyed by the project in each service; drop them too.
    for reset in (
        lambda: conn.compute.revert_quota_set(project_id),
        lambda: conn.network.delete_quota(project_id),
        lambda: conn.block_storage.revert_quota_set(project_id),
    ):
        try:
            reset()
        except (os_exceptions.SDKException, AttributeError):
            pass
    conn.identity.delete_project(project_id, ignore_missing=True)
    return StepResult(project_id)
