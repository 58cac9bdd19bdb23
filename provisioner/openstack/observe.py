"""What exists in OpenStack for one pilot: observation, ownership and leftovers.

One listing call per resource (filtered by name and project) instead of the
SDK's ``find_*``, which first tries the name as an id: a no-op re-apply is
dominated by these reads.  :func:`assemble` builds the observation from a
reads object: :class:`LiveReads` here, or the bulk snapshot of
``observe_bulk`` (reconcile), so both give the same answer.

Ownership: the project must carry this pilot's ``ngc-pilot:<id>`` tag; a
project, network, subnet, router or security group under this pilot's names
that carries another pilot's tag (or a project that carries none) is reported
in :attr:`ObservedTenant.foreign`, and ``provisioner.plan`` refuses to touch
the tenant.  The PI's user, named by e-mail, is shared when one PI leads two
pilots: a user that is also a member of another pilot's group is used, and
left for that pilot when this one is torn down.

Over 400 lines because the live reads, their concurrent variant and
:func:`assemble` must answer exactly alike for every resource kind; split,
they would drift apart.

What this module deliberately does not do: change anything in the cloud.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from openstack import exceptions as os_exceptions

from provisioner.model import (
    DesiredTenant,
    ForeignResource,
    ObservedRule,
    ObservedTenant,
    owner_of,
)
from provisioner.openstack.connection import ENDPOINT_CONCURRENCY, Admin, first, ready
from provisioner.openstack.rows import one, rows

_INFRASTRUCTURE_PORTS = ("network:router_interface", "network:dhcp", "network:router")
# The ``device_owner`` of a router's interface on a subnet (legacy, HA and distributed routers).
ROUTER_INTERFACES = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
)


def _rule(r: dict[str, Any]) -> ObservedRule:
    """A rule as Neutron embeds it in its security group's answer (a dict)."""
    return ObservedRule(
        id=r["id"],
        direction=r.get("direction"),
        protocol=r.get("protocol"),
        port_min=r.get("port_range_min"),
        port_max=r.get("port_range_max"),
        remote_cidr=r.get("remote_ip_prefix"),
        remote_group=r.get("remote_group_id"),
        ethertype=r.get("ethertype"),
    )


def _rules(embedded: Any) -> tuple[ObservedRule, ...]:
    return tuple(sorted((_rule(r) for r in embedded or ()), key=lambda r: r.id))


def _foreign(
    desired: DesiredTenant, kind: str, resource: Any, *, untagged_is_foreign: bool
) -> ForeignResource | None:
    if resource is None:
        return None
    owner = owner_of(tuple(resource.tags or ()))
    if owner == desired.pilot_id or (owner is None and not untagged_is_foreign):
        return None
    return ForeignResource(kind, resource.name, resource.id, owner)


class LiveReads:
    """The reads :func:`assemble` needs, each one filtered listing call (one tenant at a time).

    ``provisioner.openstack.observe_bulk.SnapshotReads`` answers the same
    questions from one listing per resource kind for many tenants.
    """

    def __init__(self, admin: Admin):
        self.admin = admin
        self.ident, self.net = admin.conn.identity, admin.conn.network

    def project(self, domain: Any, name: str) -> Any:
        return first(self.ident.projects(name=name, domain_id=domain.id))

    def group(self, domain: Any, name: str) -> Any:
        return first(self.ident.groups(name=name, domain_id=domain.id))

    def user(self, domain: Any, name: str) -> Any:
        return first(self.ident.users(name=name, domain_id=domain.id))

    def role(self, name: str) -> Any:
        return self.admin.role(name)

    def has_role(self, project: Any, group: Any, role: Any) -> bool:
        # By id: ``project`` and the others may be listed rows, not SDK resources.
        return bool(self.ident.validate_group_has_project_role(project.id, group.id, role.id))

    def in_group(self, user: Any, group: Any) -> bool:
        return bool(self.ident.check_user_in_group(user.id, group.id))

    def compute_quota(self, project_id: str) -> Any:
        # As JSON: openstacksdk's quota set costs ~1 ms of CPU to build for three fields.
        return one(self.admin.conn.compute, f"/os-quota-sets/{project_id}", "quota_set")

    def volume_quota(self, project_id: str) -> Any:
        return one(self.admin.conn.block_storage, f"/os-quota-sets/{project_id}", "quota_set")

    def network_quota(self, project_id: str) -> Any:
        return self.net.get_quota(project_id)

    def network(self, name: str, project_id: str) -> Any:
        return first(self.net.networks(name=name, project_id=project_id))

    def subnet(self, name: str, project_id: str) -> Any:
        return first(self.net.subnets(name=name, project_id=project_id))

    def router(self, name: str, project_id: str) -> Any:
        return first(self.net.routers(name=name, project_id=project_id))

    def router_ports(self, router_id: str) -> list[Any]:
        """The router's interfaces (its gateway port is on no subnet of the tenant)."""
        return list(self.net.ports(device_id=router_id, device_owner=list(ROUTER_INTERFACES)))

    def network_name(self, network_id: str) -> str:
        return self.net.get_network(network_id).name

    def security_groups(self, project_id: str) -> list[Any]:
        return list(self.net.security_groups(project_id=project_id))

    def app_credential(self, user: Any, name: str) -> Any:
        found = rows(
            self.ident,
            f"/users/{user.id}/application_credentials",
            "application_credentials",
            {"name": name},
        )
        return first(found)

    def ahead(self, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Reads :func:`assemble` is about to make (``(method, args)``); a hint, here ignored."""


# The reads sent to a service other than Keystone and Neutron (by openstacksdk's proxy name).
_SERVICES = {"compute_quota": "compute", "volume_quota": "block_storage"}


def _key(name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (name, *(getattr(a, "id", a) for a in args))


class ConcurrentReads(LiveReads):
    """:class:`LiveReads` whose reads announced by :meth:`ahead` are sent at once.

    Each announced read runs in ``pool`` right away; when :func:`assemble`
    asks it, it gets that read's answer (or its exception).  One tenant's ~16
    reads then cost about four round trips (domain; project, group and user;
    everything inside the project; the router's ports) instead of sixteen.
    """

    # The reads this class sends live (a subclass answering some from elsewhere narrows it).
    LIVE: frozenset[str] = frozenset(
        (
            "project group user has_role in_group compute_quota volume_quota network_quota "
            "network subnet router security_groups app_credential"
        ).split()
    )

    def __init__(self, admin: Admin, pool: ThreadPoolExecutor):
        super().__init__(admin)
        self._pool = pool
        self._futures: dict[tuple[Any, ...], Future[Any]] = {}

    def ahead(self, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        # Identity and network proxies exist already (``LiveReads``); the others
        # are made here, once, not by each of the reads sent below at once.
        ready(self.admin.conn, {_SERVICES[n] for n, _ in calls if n in _SERVICES})
        for name, args in calls:
            key = _key(name, args)
            if name not in self.LIVE or key in self._futures:
                continue  # answered elsewhere, or already under way
            self._futures[key] = self._pool.submit(getattr(LiveReads, name), self, *args)

    def _answer(self, name: str, *args: Any) -> Any:
        future = self._futures.pop(_key(name, args), None)
        return future.result() if future is not None else getattr(LiveReads, name)(self, *args)

    def project(self, domain: Any, name: str) -> Any:
        return self._answer("project", domain, name)

    def group(self, domain: Any, name: str) -> Any:
        return self._answer("group", domain, name)

    def user(self, domain: Any, name: str) -> Any:
        return self._answer("user", domain, name)

    def has_role(self, project: Any, group: Any, role: Any) -> bool:
        return bool(self._answer("has_role", project, group, role))

    def in_group(self, user: Any, group: Any) -> bool:
        return bool(self._answer("in_group", user, group))

    def compute_quota(self, project_id: str) -> Any:
        return self._answer("compute_quota", project_id)

    def volume_quota(self, project_id: str) -> Any:
        return self._answer("volume_quota", project_id)

    def network_quota(self, project_id: str) -> Any:
        return self._answer("network_quota", project_id)

    def network(self, name: str, project_id: str) -> Any:
        return self._answer("network", name, project_id)

    def subnet(self, name: str, project_id: str) -> Any:
        return self._answer("subnet", name, project_id)

    def router(self, name: str, project_id: str) -> Any:
        return self._answer("router", name, project_id)

    def security_groups(self, project_id: str) -> list[Any]:
        return list(self._answer("security_groups", project_id))

    def app_credential(self, user: Any, name: str) -> Any:
        return self._answer("app_credential", user, name)


def observe(admin: Admin, desired: DesiredTenant, deep: bool) -> ObservedTenant:
    """What exists for ``desired``; ``deep`` also lists researchers' servers, volumes, ports.

    The reads that do not depend on each other are sent at once
    (:class:`ConcurrentReads`), within the connection pool's bound per API.
    """
    with ThreadPoolExecutor(max_workers=ENDPOINT_CONCURRENCY) as pool:
        return assemble(admin, ConcurrentReads(admin, pool), desired, deep)


def assemble(admin: Admin, reads: Any, desired: DesiredTenant, deep: bool) -> ObservedTenant:
    """``desired``'s :class:`ObservedTenant` from ``reads`` (live or a bulk snapshot)."""
    conn = admin.conn
    ident, net = conn.identity, conn.network
    domain = admin.cached_domain(desired)
    if domain is None:
        return ObservedTenant()
    local = desired.identity == "local"
    reads.ahead(
        [("project", (domain, desired.project)), ("group", (domain, desired.group))]
        + ([("user", (domain, desired.pi_user))] if local else [])
    )
    project = reads.project(domain, desired.project)
    group = reads.group(domain, desired.group)
    user = reads.user(domain, desired.pi_user) if desired.identity == "local" else None
    if project is None:
        return ObservedTenant(
            domain_id=domain.id,
            group_id=group.id if group else None,
            user_id=user.id if user else None,
        )
    foreign_project = _foreign(desired, "project", project, untagged_is_foreign=True)
    if foreign_project is not None:
        # Nothing inside another pilot's project is read, let alone planned.
        return ObservedTenant(
            domain_id=domain.id,
            project_id=project.id,
            project_enabled=project.is_enabled,
            project_tags=tuple(project.tags or ()),
            project_description=project.description,
            foreign=(foreign_project,),
        )
    role = reads.role(desired.member_role)
    data_role = reads.role(desired.data_access_role) if desired.data_access_role else None
    pid = project.id
    reads.ahead(
        [
            ("compute_quota", (pid,)),
            ("volume_quota", (pid,)),
            ("network_quota", (pid,)),
            ("network", (desired.network, pid)),
            ("subnet", (desired.subnet, pid)),
            ("router", (desired.router, pid)),
            ("security_groups", (pid,)),
        ]
        + [("has_role", (project, group, r)) for r in (role, data_role) if group and r]
        + ([("in_group", (user, group))] if user and group else [])
        + ([("app_credential", (user, desired.app_credential))] if user else [])
    )
    has_role = bool(group and role and reads.has_role(project, group, role))
    in_group = bool(user and group and reads.in_group(user, group))
    has_data_access, missing_roles = False, ()
    if desired.data_access_role:
        if data_role is None:
            missing_roles = (desired.data_access_role,)
        elif group is not None:
            has_data_access = reads.has_role(project, group, data_role)
    compute = reads.compute_quota(project.id)
    volume = reads.volume_quota(project.id)
    network_quota = reads.network_quota(project.id)
    network = reads.network(desired.network, project.id)
    subnet = reads.subnet(desired.subnet, project.id) if network else None
    router = reads.router(desired.router, project.id)
    has_interface = False
    if router is not None and subnet is not None:
        has_interface = any(
            any(ip.get("subnet_id") == subnet.id for ip in (port.fixed_ips or []))
            for port in reads.router_ports(router.id)
        )
    gateway = None
    if router is not None and router.external_gateway_info:
        gateway = reads.network_name(router.external_gateway_info["network_id"])
    groups = reads.security_groups(project.id)
    ops = next((g for g in groups if g.name == desired.security_group), None)
    defaults = {g.id for g in groups if g.name == "default"}
    # Each group's answer carries its rules: no listing of rules (Neutron's
    # dearest listing, ~4x a listing of the groups themselves).
    # (Sorted by id: Neutron embeds them in no stable order.)
    rules = _rules(ops.security_group_rules if ops is not None else ())
    default_rules = _rules(
        [r for g in groups if g.id in defaults for r in g.security_group_rules or ()]
    )
    # Inside this pilot's own project an untagged resource is this pilot's (a
    # crash between create and tagging leaves one); another pilot's tag is not.
    foreign = tuple(
        f
        for f in (
            _foreign(desired, kind, item, untagged_is_foreign=False)
            for kind, item in (
                ("network", network),
                ("subnet", subnet),
                ("router", router),
                ("security group", ops),
            )
        )
        if f is not None
    )
    app_credential_id = None
    app_credential_expires_at = None
    if user is not None:
        try:
            cred = reads.app_credential(user, desired.app_credential)
            app_credential_id = cred.id if cred else None
            app_credential_expires_at = _expiry(cred.expires_at) if cred else None
        except os_exceptions.ForbiddenException:
            app_credential_id = admin.ids.get(f"appcred:{desired.project}")
    servers: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    if deep:
        servers = tuple(
            s.id for s in conn.compute.servers(all_projects=True, project_id=project.id)
        )
        volumes = tuple(
            v.id for v in conn.block_storage.volumes(all_projects=True, project_id=project.id)
        )
        ports = tuple(
            p.id
            for p in net.ports(project_id=project.id)
            if not (p.device_owner or "").startswith(_INFRASTRUCTURE_PORTS)
        )
    return ObservedTenant(
        domain_id=domain.id,
        project_id=project.id,
        project_enabled=project.is_enabled,
        project_tags=tuple(project.tags or ()),
        project_description=project.description,
        group_id=group.id if group else None,
        group_has_role=has_role,
        group_has_data_access=has_data_access,
        missing_roles=missing_roles,
        user_id=user.id if user else None,
        user_in_group=in_group,
        compute_quota={k: getattr(compute, k) for k in desired.compute_quota},
        network_quota={k: getattr(network_quota, k) for k in desired.network_quota},
        volume_quota={k: getattr(volume, k) for k in desired.volume_quota},
        network_id=network.id if network else None,
        subnet_id=subnet.id if subnet else None,
        subnet_cidr=subnet.cidr if subnet else None,
        router_id=router.id if router else None,
        router_has_interface=has_interface,
        router_gateway=gateway,
        security_group_id=ops.id if ops else None,
        security_group_rules=rules,
        default_group_rules=default_rules,
        app_credential_id=app_credential_id,
        app_credential_expires_at=app_credential_expires_at,
        servers=servers,
        volumes=volumes,
        ports=ports,
        foreign=foreign,
        # Read for teardown only (deep): provisioning uses a shared user as it is.
        user_shared=deep and _shared_user(ident, user, group),
    )


def _shared_user(identity: Any, user: Any, own_group: Any) -> bool:
    """The PI's user is a member of a group other than this pilot's (one PI, two pilots)."""
    if user is None:
        return False
    own = own_group.id if own_group is not None else None
    return any(g.id != own for g in identity.user_groups(user))


def leftovers(admin: Admin, desired: DesiredTenant, project_id: str | None) -> list[str]:
    """Anything of the pilot still present in any service (empty = clean).

    A PI user still in another pilot's group is that pilot's, not a leftover.
    """
    found = []
    conn = admin.conn
    ident, net = conn.identity, conn.network
    domain = admin.domain(desired)
    if domain is not None:
        if ident.find_project(desired.project, domain_id=domain.id):
            found.append(f"keystone project {desired.project}")
        if ident.find_group(desired.group, domain_id=domain.id):
            found.append(f"keystone group {desired.group}")
        if desired.identity == "local":
            user = ident.find_user(desired.pi_user, domain_id=domain.id)
            if user is not None and not _shared_user(ident, user, None):
                found.append(f"keystone user {desired.pi_user}")
    tag = next((t for t in desired.tags if t.startswith("ngc-pilot:")), None)
    if tag:
        for kind, items in (
            ("network", net.networks(tags=tag)),
            ("subnet", net.subnets(tags=tag)),
            ("router", net.routers(tags=tag)),
            ("security group", net.security_groups(tags=tag)),
        ):
            # Exactly this tag: the database may compare tags without case.
            found.extend(f"neutron {kind} {item.id}" for item in items if tag in (item.tags or ()))
    if project_id:
        for kind, items in (
            ("port", net.ports(project_id=project_id)),
            ("network", net.networks(project_id=project_id)),
            # Listing security groups *filtered by project* makes Neutron
            # re-create that project's "default" group; list all, filter here.
            (
                "security group",
                (g for g in net.security_groups() if g.project_id == project_id),
            ),
            ("server", conn.compute.servers(all_projects=True, project_id=project_id)),
            (
                "volume",
                conn.block_storage.volumes(all_projects=True, project_id=project_id),
            ),
        ):
            found.extend(f"{kind} {item.id}" for item in items)
    return sorted(set(found))


def _expiry(value: str | None) -> datetime | None:
    """Keystone's ``expires_at`` (ISO 8601, UTC, often without an offset) as a UTC datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)
