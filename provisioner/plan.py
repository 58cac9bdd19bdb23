"""``plan(desired, observed)``: the pure diff from what is to what should be.

The order of changes is the order of dependencies (project before quotas,
network before subnet before router interface, user before its application
credential), so ``apply`` can run them one by one and a crash at any point
leaves a state the next plan continues from.  ``plan_teardown`` is the same
in reverse.  Nothing here performs I/O.

Suspension and data access are part of the desired state: a suspended tenant
plans a disabled project and zero quotas, a tenant with data access plans the
data-access role for its group (and one without it plans that role's removal),
so the same plan is the drift report of ``ngc_pilot.lifecycle.reconcile``.
The application credential's expiry is desired state too: when the observed
expiry differs from the tenant's end (an approved extension), the credential
is renewed.

Ownership: neither plan touches a tenant while observation found a resource
under the pilot's names that is another pilot's (or nobody's)
(:attr:`ObservedTenant.foreign`): both raise
:class:`provisioner.backend.ForeignResourceError` instead, so nothing is
adopted, updated or deleted.  A PI user that is also in another pilot's
group (one PI, two pilots) is used, and left to that pilot by a teardown.
"""

from __future__ import annotations

from provisioner.backend import ForeignResourceError
from provisioner.model import Change, DesiredTenant, ObservedTenant, Plan


def refuse_foreign(desired: DesiredTenant, observed: ObservedTenant, what: str) -> None:
    """Raise :class:`ForeignResourceError` for the first resource that is not this pilot's."""
    for found in observed.foreign:
        raise ForeignResourceError(
            f"{what} {desired.project}",
            found.kind,
            found.name,
            found.id,
            found.owner,
            desired.pilot_id,
        )


def plan(
    desired: DesiredTenant, observed: ObservedTenant, *, credential_delivered: bool = True
) -> Plan:
    """The changes that make ``observed`` into ``desired``.

    ``credential_delivered`` is False when the researcher's bundle does not
    hold the current application credential (e.g. a crash between creating it
    and writing the bundle): its secret cannot be read back, so it is made anew.
    """
    refuse_foreign(desired, observed, "provision")
    changes: list[Change] = []
    add = changes.append
    if observed.domain_id is None:
        add(Change("create", "domain", desired.domain))
    enabled = not desired.suspended
    if observed.project_id is None:
        detail = {"description": desired.description, "tags": list(desired.tags)}
        if not enabled:
            detail["enabled"] = False
        add(Change("create", "project", desired.project, detail))
    else:
        drift: dict[str, object] = {}
        if observed.project_enabled is not None and observed.project_enabled != enabled:
            drift["enabled"] = enabled
        if not set(desired.tags) <= set(observed.project_tags):
            drift["tags"] = sorted(set(observed.project_tags) | set(desired.tags))
        if observed.project_description != desired.description:
            drift["description"] = desired.description
        if drift:
            add(Change("update", "project", desired.project, drift))
    if observed.group_id is None:
        add(Change("create", "group", desired.group))
    if not observed.group_has_role:
        add(Change("create", "role_assignment", desired.group, {"role": desired.member_role}))
    if desired.data_access_role:
        grant = {"role": desired.data_access_role, "group": desired.group}
        if desired.data_access and not observed.group_has_data_access:
            add(Change("create", "role_assignment", desired.data_access_role, grant))
        elif not desired.data_access and observed.group_has_data_access:
            add(
                Change(
                    "delete",
                    "role_assignment",
                    desired.data_access_role,
                    {**grant, "why": "data access has not been granted to this tenant"},
                )
            )
    if desired.identity == "local":
        if observed.user_id is None:
            add(Change("create", "user", desired.pi_user, {"email": desired.pi_email}))
        if not observed.user_in_group:
            add(Change("create", "group_membership", desired.pi_user, {"group": desired.group}))
    for kind, want, have in (
        ("compute_quota", desired.compute_quota, observed.compute_quota),
        ("network_quota", desired.network_quota, observed.network_quota),
        ("volume_quota", desired.volume_quota, observed.volume_quota),
    ):
        differs = {k: v for k, v in want.items() if have.get(k) != v}
        if differs:
            add(Change("update", kind, desired.project, differs))
    if observed.network_id is None:
        add(Change("create", "network", desired.network))
    if observed.subnet_id is None:
        add(
            Change(
                "create",
                "subnet",
                desired.subnet,
                {"cidr": desired.cidr, "dns": list(desired.dns_nameservers)},
            )
        )
    if observed.router_id is None:
        add(
            Change(
                "create", "router", desired.router, {"external_network": desired.external_network}
            )
        )
    elif (observed.router_gateway or None) != desired.external_network:
        add(
            Change(
                "update", "router", desired.router, {"external_network": desired.external_network}
            )
        )
    if not observed.router_has_interface:
        add(Change("create", "router_interface", desired.router, {"subnet": desired.subnet}))
    if observed.security_group_id is None:
        add(Change("create", "security_group", desired.security_group))
    have_rules = {r.key(): r for r in observed.security_group_rules if r.direction == "ingress"}
    for rule in desired.ingress:
        if rule.key() not in have_rules:
            add(
                Change(
                    "create",
                    "security_group_rule",
                    desired.security_group,
                    {
                        "protocol": rule.protocol,
                        "port_min": rule.port_min,
                        "port_max": rule.port_max,
                        "remote_cidr": rule.remote_cidr,
                    },
                )
            )
    wanted = {r.key() for r in desired.ingress}
    for rule in observed.security_group_rules:
        if rule.direction == "ingress" and rule.key() not in wanted:
            add(
                Change(
                    "delete",
                    "security_group_rule",
                    desired.security_group,
                    {"id": rule.id, "why": "ingress not allowed by policy"},
                )
            )
    if observed.project_id is None:
        # Neutron gives a new project a "default" group that admits ingress
        # from its members: remove that in this pass, not on the next look.
        add(
            Change(
                "delete",
                "default_group_ingress",
                "default",
                {"why": "default group must not admit ingress"},
            )
        )
    for rule in observed.default_group_rules:
        if rule.direction == "ingress":
            add(
                Change(
                    "delete",
                    "security_group_rule",
                    "default",
                    {"id": rule.id, "why": "default group must not admit ingress"},
                )
            )
    # A suspended tenant gets no new credential: nobody may use the project.
    # A credential whose expiry drifted from the tenant's end (an extension moved
    # it) is renewed: Keystone cannot change an expiry, so it is made anew.
    expiry_drifted = (
        observed.app_credential_expires_at is not None
        and observed.app_credential_expires_at != desired.expires_at
    )
    if (
        desired.identity == "local"
        and not desired.suspended
        and (observed.app_credential_id is None or not credential_delivered or expiry_drifted)
    ):
        add(
            Change(
                "create",
                "application_credential",
                desired.app_credential,
                {
                    "user": desired.pi_user,
                    "expires_at": desired.expires_at.isoformat(),
                    "role": desired.member_role,
                },
            )
        )
    return Plan(desired.pilot_id, tuple(changes))


def settled_by_answers(observed: ObservedTenant, the_plan: Plan) -> bool:
    """Whether ``the_plan``, once every change of it is done (and its answer showed
    what it asked), leaves nothing to plan, so that no confirming observation is needed.

    True only for a plan made from an observation that found no project: then
    the plan creates the project and everything in it, each step acting on
    what the step before it created, and removes the ingress of the "default"
    group Neutron makes for the new project (the one resource that appears
    as a consequence of others).  Any other plan is confirmed by observing
    again (drift repair, a resumed run: what else is there was read once).
    """
    return (
        observed.project_id is None
        and not observed.foreign
        and any(c.resource == "default_group_ingress" for c in the_plan.changes)
    )


def plan_teardown(desired: DesiredTenant, observed: ObservedTenant) -> Plan:
    """Everything of the tenant, in reverse dependency order (researchers' servers and volumes included)."""
    refuse_foreign(desired, observed, "tear down")
    changes: list[Change] = []
    add = changes.append
    if observed.app_credential_id:
        add(
            Change(
                "delete",
                "application_credential",
                desired.app_credential,
                {"id": observed.app_credential_id},
            )
        )
    for server in observed.servers:
        add(Change("delete", "server", server, {"id": server}))
    for volume in observed.volumes:
        add(Change("delete", "volume", volume, {"id": volume}))
    if observed.router_id and observed.router_has_interface:
        add(
            Change(
                "delete",
                "router_interface",
                desired.router,
                {"router": observed.router_id, "subnet": observed.subnet_id},
            )
        )
    if observed.router_id:
        add(Change("delete", "router", desired.router, {"id": observed.router_id}))
    for port in observed.ports:
        add(Change("delete", "port", port, {"id": port}))
    if observed.subnet_id:
        add(Change("delete", "subnet", desired.subnet, {"id": observed.subnet_id}))
    if observed.network_id:
        add(Change("delete", "network", desired.network, {"id": observed.network_id}))
    if observed.security_group_id:
        add(
            Change(
                "delete",
                "security_group",
                desired.security_group,
                {"id": observed.security_group_id},
            )
        )
    if observed.project_id:
        add(
            Change(
                "delete",
                "security_groups_of_project",
                desired.project,
                {"project": observed.project_id},
            )
        )
    if observed.user_id and desired.identity == "local" and not observed.user_shared:
        add(Change("delete", "user", desired.pi_user, {"id": observed.user_id}))
    if observed.group_id:
        add(Change("delete", "group", desired.group, {"id": observed.group_id}))
    if observed.project_id:
        add(Change("delete", "project", desired.project, {"id": observed.project_id}))
    return Plan(desired.pilot_id, tuple(changes))
