"""The step handlers of the OpenStack backend and the table that dispatches to them.

:data:`STEPS` maps each ``(action, resource)`` a plan can hold to the one
function that performs it; every entry is listed here, so what a plan may ask
of OpenStack is readable in one place, and a change no handler serves is a
clear error, not an attribute lookup that fails somewhere else.
The Kubernetes backend keeps its own table in the same shape.

What this package deliberately does not do: translate SDK errors (the backend
does, around each call) or decide what to change (``provisioner.plan``).
"""

from __future__ import annotations

from collections.abc import Callable

from provisioner.backend import StepResult
from provisioner.model import Change, DesiredTenant
from provisioner.openstack.connection import Admin
from provisioner.openstack.steps import identity, members, network, teardown

Handler = Callable[[Admin, Change, DesiredTenant], StepResult]

STEPS: dict[tuple[str, str], Handler] = {
    # Keystone
    ("create", "domain"): identity.create_domain,
    ("create", "project"): identity.create_project,
    ("update", "project"): identity.update_project,
    ("create", "group"): identity.create_group,
    ("create", "role_assignment"): identity.create_role_assignment,
    ("delete", "role_assignment"): identity.delete_role_assignment,
    ("create", "user"): identity.create_user,
    ("create", "group_membership"): identity.create_group_membership,
    ("create", "application_credential"): identity.create_application_credential,
    # a tenant's members (``provisioner.members``)
    ("create", "member_user"): members.create_member_user,
    ("create", "member_group"): members.create_member_group,
    ("create", "member_role"): members.create_member_role,
    ("create", "member_application_credential"): members.create_member_application_credential,
    ("create", "member_keypair"): members.create_member_keypair,
    ("delete", "member_keypair"): members.delete_member_keypair,
    ("delete", "member_application_credential"): members.delete_member_application_credential,
    ("delete", "member_user"): members.delete_member_user,
    # quotas and Neutron
    ("update", "compute_quota"): network.update_compute_quota,
    ("update", "network_quota"): network.update_network_quota,
    ("update", "volume_quota"): network.update_volume_quota,
    ("create", "network"): network.create_network,
    ("create", "subnet"): network.create_subnet,
    ("create", "router"): network.create_router,
    ("update", "router"): network.update_router,
    ("create", "router_interface"): network.create_router_interface,
    ("create", "security_group"): network.create_security_group,
    ("create", "security_group_rule"): network.create_security_group_rule,
    ("delete", "security_group_rule"): network.delete_security_group_rule,
    ("delete", "default_group_ingress"): network.delete_default_group_ingress,
    # teardown
    ("delete", "application_credential"): teardown.delete_application_credential,
    ("delete", "server"): teardown.delete_server,
    ("delete", "volume"): teardown.delete_volume,
    ("delete", "router_interface"): teardown.delete_router_interface,
    ("delete", "router"): teardown.delete_router,
    ("delete", "port"): teardown.delete_port,
    ("delete", "subnet"): teardown.delete_subnet,
    ("delete", "network"): teardown.delete_network,
    ("delete", "security_group"): teardown.delete_security_group,
    ("delete", "security_groups_of_project"): teardown.delete_security_groups_of_project,
    ("delete", "user"): teardown.delete_user,
    ("delete", "group"): teardown.delete_group,
    ("delete", "project"): teardown.delete_project,
}
