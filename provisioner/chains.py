"""Which changes of a provisioning plan may run at the same time: its chains.

Why this exists: once a tenant's project exists, its changes fall into
chains that do not depend on each other — Keystone (group, role assignments,
the PI's user, membership, credential), the network (network, subnet,
interface), the router, the security groups and their rules, and each quota —
so ``provisioner.apply`` can run the chains concurrently, each in plan order,
instead of one change after another.  Every dependency stays inside one chain
(the credential after the user's membership and the group's role, the subnet
after its network, a rule after its group) but two, in :data:`AFTER`: the
router's interface, in the network's chain after the subnet, also waits for
the router's chain, so that Neutron's longest serial run (network, subnet,
router, interface: ~3 s of a new tenant's ~5 s under load) loses the router;
and the router waits for the network quota.  Each quota is a chain of its own:
a new project's default quotas admit its network, router and group, so no
create waits for a quota to be raised.

What this module deliberately does not do: run anything, or reorder the
changes of a chain.  A plan holding a change it does not know (a teardown's,
a member's) is not split at all, and runs one change after another.
"""

from __future__ import annotations

from provisioner.model import Change, Plan

# Changes everything else needs: run first, in plan order.
HEAD = frozenset({("create", "domain"), ("create", "project"), ("update", "project")})

# The chain of every other change a provisioning plan may hold, by resource.
CHAIN_OF = {
    "group": "identity",
    "role_assignment": "identity",
    "user": "identity",
    "group_membership": "identity",
    "application_credential": "identity",
    "compute_quota": "compute",
    "volume_quota": "volume",
    "network_quota": "network quota",
    "network": "network",
    "subnet": "network",
    "router": "router",
    "router_interface": "network",
    "security_group": "security",
    "security_group_rule": "security",
    "default_group_ingress": "security",
}

# A change of the key's resource starts only once every change of the plan on
# these resources (in another chain) is done.  The router waits for the network
# quota: Neutron (since 2025.1) refuses a limit below what the project uses, and
# counts a create under way twice (the row and its reservation), so a router
# (limit 1) made while the quota is set failed that update with HTTP 400.
AFTER = {
    "router_interface": frozenset({"router"}),
    "router": frozenset({"network_quota"}),
}


def chains(the_plan: Plan) -> tuple[tuple[Change, ...], tuple[tuple[Change, ...], ...]] | None:
    """``(head, chains)``: the changes to run first, then the chains that may run at once.

    None when the plan holds a change outside :data:`HEAD` and :data:`CHAIN_OF`
    (or a head change after another change): such a plan runs in order.
    """
    changes = the_plan.changes
    cut = 0
    while cut < len(changes) and (changes[cut].action, changes[cut].resource) in HEAD:
        cut += 1
    grouped: dict[str, list[Change]] = {}
    for change in changes[cut:]:
        chain = CHAIN_OF.get(change.resource)
        if chain is None or (change.action, change.resource) in HEAD:
            return None
        grouped.setdefault(chain, []).append(change)
    return tuple(changes[:cut]), tuple(tuple(c) for c in grouped.values())
