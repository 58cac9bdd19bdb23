"""Observe many tenants from one listing per resource kind (reconcile, no-op re-apply).

Why this exists: observing tenants one at a time costs ~15 filtered reads
each, so an hourly reconcile of 1,000 tenants costs minutes.  Here projects,
groups, users, roles, role assignments (direct, and effective: the members
of every group holding a role; for a few projects in a large cloud, one
effective listing per project), networks, subnets, routers, ports, security
groups (their rules come embedded) and network quotas are each listed *once*
for all tenants, and :func:`provisioner.openstack.observe.assemble` builds every
tenant's :class:`ObservedTenant` from that snapshot with exactly the logic of
the per-tenant observation, so both give the same answer.  The listings are
sent at once, within the connection pool's bound per API; Neutron's once the
projects are known (only those projects' resources when they are few, and
nothing at all when none of the tenants has a project yet).  Each listing is
read as the API's JSON (:mod:`provisioner.openstack.rows`), not as
openstacksdk resources: a reconcile lists every project's security groups and
quotas, and building a resource per item was most of the client's CPU.

Still read per tenant, because the APIs have no listing across projects or
users: compute and volume quotas (Nova, Cinder) and the PI's application
credential (Keystone), a network quota Neutron does not list (a project
still on the defaults), the name of a router's external network when it is
not in the network listing, and the PI's group membership when the group
holds no role anywhere (drift: the effective listing cannot show its members),
or, when the projects are expanded one at a time, none on a wanted project.

What this module deliberately does not do: read servers, volumes or ports
of researchers (``deep``; teardown observes one tenant at a time), or change
anything in the cloud.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from provisioner.model import DesiredTenant, ObservedTenant
from provisioner.openstack.connection import Admin
from provisioner.openstack.observe import ROUTER_INTERFACES, ConcurrentReads, assemble
from provisioner.openstack.rows import NETWORK_QUOTA, PROJECT, Row, rows

# Up to this many wanted projects, the Neutron listings ask only for theirs
# (a URL of ~40 characters per project); beyond, everything is listed.
FILTER_UP_TO = 50
# Keystone's effective role assignments (every group holding a role expanded to
# its members) are listed per wanted project when the wanted domains hold at
# least this many times as many projects, else for the whole cloud at once.
# On devcloud, right after new grants, the whole cloud's listing cost Keystone
# ~4-5 ms per tenant it held (0.77 s at 160 tenants, on a re-apply's critical
# path; 0.10 s warm) and one project's listing ~25-30 ms.
EXPAND_RATIO = 8


class SnapshotReads(ConcurrentReads):
    """Reads answered from one listing per resource kind; the rest live, sent at once per tenant.

    The Keystone listings are awaited here; the Neutron listings are sent once
    the projects are known (only the wanted tenants' projects' resources when
    there are few, none at all when no wanted project exists yet: a new
    tenant has nothing in Neutron) and awaited only when a tenant's
    observation first needs them, so each tenant's live reads (quotas,
    membership, credential) are under way meanwhile.
    """

    LIVE = frozenset({"in_group", "compute_quota", "volume_quota", "app_credential"})

    def __init__(
        self,
        admin: Admin,
        domain_ids: set[str],
        pool: ThreadPoolExecutor,
        wanted: Sequence[tuple[str, str]] = (),
    ):
        super().__init__(admin, pool)
        ident = self.ident
        domains = sorted(domain_ids)

        def listing(
            proxy: Any, path: str, params: dict[str, Any] | None = None, **kw: Any
        ) -> Future[list[Row]]:
            # The items as JSON (a few fields of each are read), every page.
            return pool.submit(rows, proxy, f"/{path}", path.replace("-", "_"), params, **kw)

        # The projects first, alone: the Neutron listings (the slowest) need
        # only them, and Keystone answers one listing faster than six at once.
        got: dict[Any, list[Any]] = {
            ("projects", d): listing(ident, "projects", {"domain_id": d}, names=PROJECT).result()
            for d in domains
        }
        self._projects: dict[tuple[str, str], Any] = {}
        for domain_id in domains:
            for item in got[("projects", domain_id)]:
                # The first of a name wins, as ``first(listing(name=...))`` does.
                self._projects.setdefault((domain_id, item.name), item)
        projects = sorted({self._projects[key].id for key in wanted if key in self._projects})
        few = len(projects) <= FILTER_UP_TO
        self._neutron = self._neutron_listings(listing, projects, few)
        # The quotas Nova and Cinder only give per project go out now, beside
        # the listings, not when each tenant's observation reaches them.
        self.ahead([(kind, (p,)) for p in projects for kind in ("compute_quota", "volume_quota")])
        # The rest of Keystone at once (within the connection pool's bound per API).
        keystone = {
            **{
                (kind, d): listing(ident, kind, {"domain_id": d})
                for d in domains
                for kind in ("groups", "users")
            },
            "assignments": listing(ident, "role_assignments"),
            "roles": listing(ident, "roles"),
        }
        # Group assignments expanded to each member user, with the membership
        # behind it: every PI's membership without a read per tenant.  Over the
        # whole cloud Keystone expands every group holding a role, which grows
        # with the cloud: a few projects in a large one go one at a time.
        held = sum(len(got[("projects", d)]) for d in domains)
        apart = few and len(projects) * EXPAND_RATIO <= held
        scopes = [{"scope.project.id": p} for p in projects] if apart else [{}]
        effective = [
            listing(ident, "role_assignments", {"effective": True, **scope}) for scope in scopes
        ]
        got.update({key: future.result() for key, future in keystone.items()})
        self._groups: dict[tuple[str, str], Any] = {}
        self._users: dict[tuple[str, str], Any] = {}
        for domain_id in domains:
            for found, kind in ((self._groups, "groups"), (self._users, "users")):
                for item in got[(kind, domain_id)]:
                    found.setdefault((domain_id, item.name), item)
        self._assignments = {
            (a.group["id"], a.scope["project"]["id"], a.role["id"])
            for a in got["assignments"]
            if a.group and a.scope and "project" in a.scope
        }
        # Groups holding a role on a project expanded above: their members are all named.
        listed = set(projects) if apart else None
        self._expanded = {
            group for group, project, _ in self._assignments if listed is None or project in listed
        }
        self._members = {
            membership
            for future in effective
            for a in future.result()
            if (membership := _membership(a)) is not None
        }
        self._roles: dict[str, Any] = {}
        for role in got["roles"]:
            self._roles.setdefault(role.name, role)
        self._indexed: dict[str, Any] | None = None
        self._index_lock = threading.Lock()

    def _neutron_listings(
        self, listing: Any, projects: list[str], filtered: bool
    ) -> dict[str, Future[list[Any]]]:
        """The Neutron listings for ``projects`` (none when there is none), sent now;
        only theirs when ``filtered``, else everything."""
        if not projects:
            return {}
        net = self.net
        only = {"project_id": projects} if filtered else {}
        found = {kind: listing(net, kind, only) for kind in ("networks", "subnets", "routers")}
        # Only routers' interfaces: the observation reads no other port (a
        # reconcile would otherwise list every server's port in the cloud).
        found["ports"] = listing(net, "ports", {**only, "device_owner": list(ROUTER_INTERFACES)})
        found["security_groups"] = listing(net, "security-groups", self._groups_filter(only))
        found["quotas"] = listing(net, "quotas", names=NETWORK_QUOTA)
        return found

    def _groups_filter(self, only: dict[str, list[str]]) -> dict[str, list[str]]:
        """The security-group listing's filter: ``only``'s projects, the admin's own first.

        Neutron (29, ``get_security_groups``) makes the "default" group of the
        *first* project a listing is filtered by, if missing, or else of the
        caller's project; with the admin's own project first, a filtered listing
        makes no more than an unfiltered one does (the admin's group, which
        exists), and no wanted project gets a group by being observed.
        """
        own = self.admin.conn.current_project_id if only else None
        return {"project_id": [own, *only["project_id"]]} if own else {}

    def _net(self) -> dict[str, Any]:
        """The Neutron listings, indexed (waited for on first use, once)."""
        with self._index_lock:
            if self._indexed is None:
                got = {kind: future.result() for kind, future in self._neutron.items()}
                networks = _by_name(got.get("networks", ()))
                ports: dict[str, list[Any]] = defaultdict(list)
                for port in got.get("ports", ()):
                    ports[port.device_id].append(port)
                groups: dict[str, list[Any]] = defaultdict(list)
                for g in got.get("security_groups", ()):
                    groups[g.project_id].append(g)
                self._indexed = {
                    "quotas": {q.project_id: q for q in got.get("quotas", ())},
                    "networks": networks,
                    "network_names": {n.id: n.name for n in networks.values()},
                    "subnets": _by_name(got.get("subnets", ())),
                    "routers": _by_name(got.get("routers", ())),
                    "ports": ports,
                    "security_groups": groups,
                }
            return self._indexed

    def project(self, domain: Any, name: str) -> Any:
        return self._projects.get((domain.id, name))

    def group(self, domain: Any, name: str) -> Any:
        return self._groups.get((domain.id, name))

    def user(self, domain: Any, name: str) -> Any:
        return self._users.get((domain.id, name))

    def role(self, name: str) -> Any:
        return self._roles.get(name)

    def has_role(self, project: Any, group: Any, role: Any) -> bool:
        return (group.id, project.id, role.id) in self._assignments

    def ahead(self, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        super().ahead(
            [(n, args) for n, args in calls if not (n == "in_group" and self._knows(args[1]))]
        )

    def in_group(self, user: Any, group: Any) -> bool:
        if self._knows(group):
            return (group.id, user.id) in self._members
        return super().in_group(user, group)

    def _knows(self, group: Any) -> bool:
        """Whether the effective listing shows ``group``'s members (it holds a project role)."""
        return group.id in self._expanded

    def network_quota(self, project_id: str) -> Any:
        quota = self._net()["quotas"].get(project_id)
        return quota if quota is not None else super().network_quota(project_id)

    def network(self, name: str, project_id: str) -> Any:
        return self._net()["networks"].get((project_id, name))

    def subnet(self, name: str, project_id: str) -> Any:
        return self._net()["subnets"].get((project_id, name))

    def router(self, name: str, project_id: str) -> Any:
        return self._net()["routers"].get((project_id, name))

    def router_ports(self, router_id: str) -> list[Any]:
        return list(self._net()["ports"].get(router_id, ()))

    def network_name(self, network_id: str) -> str:
        name = self._net()["network_names"].get(network_id)
        return name if name is not None else super().network_name(network_id)

    def security_groups(self, project_id: str) -> list[Any]:
        return list(self._net()["security_groups"].get(project_id, ()))


def _membership(assignment: Any) -> tuple[str, str] | None:
    """(group id, user id) of an effective assignment a group membership gave, else None."""
    link = (assignment.links or {}).get("membership") or ""
    _, _, tail = link.rpartition("/groups/")
    group, _, user = tail.partition("/users/")
    return (group, user) if group and user and "/" not in group + user else None


def _by_name(items: Any) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    for item in items:
        found.setdefault((item.project_id, item.name), item)
    return found


def snapshot(
    admin: Admin, desired_list: Sequence[DesiredTenant], pool: ThreadPoolExecutor
) -> SnapshotReads:
    """One listing per resource kind covering every tenant of ``desired_list``.

    ``pool`` sends the listings, and later each tenant's live reads, at once.
    """
    wanted = []
    for desired in desired_list:
        domain = admin.cached_domain(desired)
        if domain is not None:
            wanted.append((domain.id, desired.project))
    return SnapshotReads(admin, {d for d, _ in wanted}, pool, wanted)


def observe_one(admin: Admin, reads: SnapshotReads, desired: DesiredTenant) -> ObservedTenant:
    """``desired``'s observation from ``reads`` (the same as ``observe.observe``, not deep)."""
    return assemble(admin, reads, desired, deep=False)
