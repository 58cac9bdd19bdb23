"""Quota and Neutron steps: quotas, network, subnet, router, security group and rules.

Each handler does one planned change inside the pilot's project (looked up
through :meth:`Admin.domain_and_project`, which refuses another pilot's
project) and tags what it creates with the pilot's tags.  What a step creates
is remembered (:meth:`Admin.remember`) and used by the steps after it (the
subnet's network, the interface's router and subnet, the rule's group)
instead of being read again.

What this module deliberately does not do: decide what to change or delete
anything but a security-group rule the plan names.
"""

from __future__ import annotations

from typing import Any

from provisioner.backend import StepResult
from provisioner.model import Change, DesiredTenant
from provisioner.openstack.connection import Admin, first


def update_compute_quota(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    # Nova refuses a limit below what the project uses (HTTP 400) unless
    # forced.  A suspension zeroes the quotas whatever runs; for a running
    # tenant the refusal stands, for a person to decide.
    extra = {"force": True} if desired.suspended else {}
    answer = admin.conn.compute.update_quota_set(project.id, **change.detail, **extra)
    return _quota_result(project.id, answer, change)


def update_network_quota(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    answer = admin.conn.network.update_quota(project.id, **change.detail)
    return _quota_result(project.id, answer, change)


def update_volume_quota(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    answer = admin.conn.block_storage.update_quota_set(project.id, **change.detail)
    return _quota_result(project.id, answer, change)


def _quota_result(project_id: str, answer: Any, change: Change) -> StepResult:
    """Confirmed when the service's answer holds every limit the change set."""
    shown = all(getattr(answer, k, None) == v for k, v in change.detail.items())
    return StepResult(project_id, confirmed=shown)


def create_network(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    network = admin.conn.network.create_network(
        name=desired.network, project_id=project.id, description=desired.description
    )
    admin.conn.network.set_tags(network, list(desired.tags))
    admin.remember(f"network:{desired.network}", network)
    return StepResult(network.id)


def create_subnet(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    net = admin.conn.network
    network = _known(admin, "network", desired.network, project.id, net.networks)
    subnet = net.create_subnet(
        name=desired.subnet,
        network_id=network.id,
        project_id=project.id,
        ip_version=4,
        cidr=desired.cidr,
        dns_nameservers=list(desired.dns_nameservers),
        enable_dhcp=True,
    )
    net.set_tags(subnet, list(desired.tags))
    admin.remember(f"subnet:{desired.subnet}", subnet)
    return StepResult(subnet.id)


def _known(admin: Admin, kind: str, name: str, project_id: str, listing: Any) -> Any:
    """The project's ``kind`` called ``name``: as created by an earlier step, else listed."""
    return admin.known_or(
        f"{kind}:{name}", lambda: first(listing(name=name, project_id=project_id))
    )


def _gateway_info(admin: Admin, desired: DesiredTenant) -> dict[str, Any] | None:
    if not desired.external_network:
        return None
    key = f"external:{desired.external_network}"
    if key not in admin.cache:  # the operator's, stable while a backend lives
        admin.cache[key] = admin.conn.network.find_network(
            desired.external_network, ignore_missing=False
        )
    return {"network_id": admin.cache[key].id}


def create_router(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    attrs: dict[str, Any] = {"name": desired.router, "project_id": project.id}
    gateway = _gateway_info(admin, desired)
    if gateway:
        attrs["external_gateway_info"] = gateway
    router = admin.conn.network.create_router(**attrs)
    admin.conn.network.set_tags(router, list(desired.tags))
    admin.remember(f"router:{desired.router}", router)
    return StepResult(router.id)


def update_router(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    router = _known(admin, "router", desired.router, project.id, admin.conn.network.routers)
    admin.conn.network.update_router(
        router, external_gateway_info=_gateway_info(admin, desired) or {}
    )
    return StepResult(router.id)


def create_router_interface(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    net = admin.conn.network
    router = _known(admin, "router", desired.router, project.id, net.routers)
    subnet = _known(admin, "subnet", desired.subnet, project.id, net.subnets)
    net.add_interface_to_router(router, subnet_id=subnet.id)
    return StepResult(router.id)


def create_security_group(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    group = admin.conn.network.create_security_group(
        name=desired.security_group,
        project_id=project.id,
        description="ngc-pilot: ingress only from the operations bastion",
    )
    admin.conn.network.set_tags(group, list(desired.tags))
    admin.remember(f"security_group:{desired.security_group}", group)
    return StepResult(group.id)


def create_security_group_rule(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    _, project = admin.domain_and_project(desired, change.step)
    group = _known(
        admin,
        "security_group",
        desired.security_group,
        project.id,
        admin.conn.network.security_groups,
    )
    d = change.detail
    rule = admin.conn.network.create_security_group_rule(
        security_group_id=group.id,
        project_id=project.id,
        direction="ingress",
        ether_type="IPv4",
        protocol=d["protocol"],
        port_range_min=d["port_min"],
        port_range_max=d["port_max"],
        remote_ip_prefix=d["remote_cidr"],
    )
    return StepResult(rule.id)


def delete_default_group_ingress(
    admin: Admin, change: Change, desired: DesiredTenant
) -> StepResult:
    """Remove every ingress rule of the project's "default" group (a new project's)."""
    _, project = admin.domain_and_project(desired, change.step)
    net = admin.conn.network
    default = admin.known.get(f"default_group:{project.id}")
    if default is not None:
        # Made (and read, rules included) right after the project, in this pass.
        for rule in default.security_group_rules or ():
            if rule.get("direction") == "ingress":
                net.delete_security_group_rule(rule["id"], ignore_missing=True)
        return StepResult(default.id)
    found = None
    # Filtered by project on purpose: Neutron makes the project's default group
    # now if it has none yet, so it exists, and is stripped, before anyone boots.
    for group in net.security_groups(project_id=project.id, name="default"):
        found = group.id
        for rule in net.security_group_rules(security_group_id=group.id, direction="ingress"):
            net.delete_security_group_rule(rule, ignore_missing=True)
    return StepResult(found)


def delete_security_group_rule(admin: Admin, change: Change, desired: DesiredTenant) -> StepResult:
    admin.conn.network.delete_security_group_rule(change.detail["id"], ignore_missing=True)
    return StepResult(change.detail["id"])
