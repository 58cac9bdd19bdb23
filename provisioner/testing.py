"""An in-memory cloud for tests of *our* logic around the cloud.

It implements the same protocols as a real backend (``CloudBackend``,
``UsageReader``, ``IsolationProbe`` of :mod:`provisioner.backend`).  Real
cloud behaviour is tested against devcloud (a real OpenStack).  This double
exists for what a real cloud cannot be made to do on demand: drop a
connection *after* a create succeeded, to prove the service re-observes
instead of repeating the step.  It models only what ``plan`` reads and
``execute`` writes, ownership included: tenants are kept by project *name*,
as the cloud finds them, so a second pilot whose names collide with the
first's observes the first's project as foreign.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from provisioner.backend import CapacityLine, CloudError, ForeignResourceError, Probe, StepResult
from provisioner.model import (
    Change,
    DesiredTenant,
    ForeignResource,
    ObservedRule,
    ObservedTenant,
    owner_of,
)
from provisioner.secrets import Secret
from provisioner.testing_members import MembersInMemory
from provisioner.usage import METRICS, UsageSample

# What ``observe_many`` lists once each (as ``provisioner.openstack.observe_bulk``).
BULK_KINDS = (
    "projects",
    "groups",
    "users",
    "roles",
    "role assignments",
    "network quotas",
    "networks",
    "subnets",
    "routers",
    "ports",
    "security groups",
    "security group rules",
)
_SOURCE = {"volume_gb_hours": "cinder"}  # as the OpenStack reader reports it


@dataclass
class _Tenant:
    project_id: str
    tags: tuple[str, ...] = ()
    description: str = ""
    resources: dict[str, str] = field(default_factory=dict)  # kind -> id
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    rules: dict[str, tuple[str, int, int, str]] = field(default_factory=dict)
    enabled: bool = True
    credential_expires_at: datetime | None = None


class InMemoryCloud(MembersInMemory):
    """A cloud that keeps tenants in dictionaries and can fail on cue."""

    def __init__(self, cores: float = 4000, ram_mb: float = 32_000_000):
        self._ids = (f"id-{n}" for n in itertools.count(1))
        self._lock = threading.RLock()
        self.domains: set[str] = set()
        self.tenants: dict[str, _Tenant] = {}
        self.identities: dict[str, str] = {}  # group/user name -> id
        self.calls: list[str] = []
        self.mutating_calls = 0
        self._capacity = [
            CapacityLine("cores", cores, cores, 1.0),
            CapacityLine("ram_mb", ram_mb, ram_mb, 1.0),
        ]
        self._fail: list[tuple[str, bool, bool]] = []  # (resource, after_doing_it, transient)
        self.roles: set[str] = {"member", "ngc-data-access"}  # Keystone's roles
        self.used: dict[tuple[str, str], Decimal] = {}  # (project id, metric) -> per window

    # -- test controls --------------------------------------------------------

    def fail_once(self, resource: str, *, after: bool = True, transient: bool = True) -> None:
        """Make the next ``resource`` step fail; ``after``: once the change is made (lost reply)."""
        self._fail.append((resource, after, transient))

    def count(self, kind: str) -> int:
        return sum(kind in t.resources for t in self.tenants.values())

    # -- CloudBackend --------------------------------------------------------

    def auth_url(self) -> str:
        return "http://127.0.0.1:1/v3"

    def region(self) -> str | None:
        return "Test"

    def capacity(self) -> list[CapacityLine]:
        return list(self._capacity)

    def observe(self, desired: DesiredTenant, *, deep: bool = False) -> ObservedTenant:
        self.calls.append(f"observe {desired.project}")
        return self._observe(desired)

    def observe_many(
        self, desired_list: Sequence[DesiredTenant]
    ) -> list[ObservedTenant | CloudError]:
        """As the OpenStack backend: one listing call per resource kind, whatever the tenants."""
        self.calls.extend(f"list {kind}" for kind in BULK_KINDS)
        return [self._observe(d) for d in desired_list]

    def _observe(self, desired: DesiredTenant) -> ObservedTenant:
        if desired.domain not in self.domains:
            return ObservedTenant()
        t = self.tenants.get(desired.project)
        group_id = self.identities.get(desired.group)
        user_id = self.identities.get(desired.pi_user)
        if t is None:
            return ObservedTenant(domain_id=desired.domain, group_id=group_id, user_id=user_id)
        owner = owner_of(t.tags)
        if owner != desired.pilot_id:
            return ObservedTenant(
                domain_id=desired.domain,
                project_id=t.project_id,
                project_enabled=t.enabled,
                project_tags=t.tags,
                project_description=t.description,
                foreign=(ForeignResource("project", desired.project, t.project_id, owner),),
            )
        r = t.resources
        return ObservedTenant(
            domain_id=desired.domain,
            project_id=t.project_id,
            project_enabled=t.enabled,
            project_tags=t.tags,
            project_description=t.description,
            group_id=group_id,
            group_has_role="role" in t.flags,
            group_has_data_access=bool(
                desired.data_access_role and f"role:{desired.data_access_role}" in t.flags
            ),
            missing_roles=tuple(
                r for r in (desired.data_access_role,) if r and r not in self.roles
            ),
            user_id=user_id,
            user_in_group="member" in t.flags,
            compute_quota=t.quotas.get("compute_quota", {}),
            network_quota=t.quotas.get("network_quota", {}),
            volume_quota=t.quotas.get("volume_quota", {}),
            network_id=r.get("network"),
            subnet_id=r.get("subnet"),
            subnet_cidr=desired.cidr if "subnet" in r else None,
            router_id=r.get("router"),
            router_has_interface="interface" in t.flags,
            security_group_id=r.get("security_group"),
            security_group_rules=tuple(
                ObservedRule(rid, "ingress", p, lo, hi, cidr, None, "IPv4")
                for rid, (p, lo, hi, cidr) in t.rules.items()
            ),
            app_credential_id=r.get("application_credential"),
            app_credential_expires_at=t.credential_expires_at
            if "application_credential" in r
            else None,
        )

    def execute(self, change: Change, desired: DesiredTenant) -> StepResult:
        with self._lock:  # a plan's chains run concurrently (``provisioner.apply``)
            return self._execute(change, desired)

    def _execute(self, change: Change, desired: DesiredTenant) -> StepResult:
        failure = next((f for f in self._fail if f[0] == change.resource), None)
        if failure and not failure[1]:
            self._fail.remove(failure)
            raise CloudError(f"{change.step} failed: injected", transient=failure[2])
        t = self.tenants.get(desired.project)
        if t is not None and change.resource != "domain" and owner_of(t.tags) != desired.pilot_id:
            # The backend's own last check, as the OpenStack one does.
            raise ForeignResourceError(
                change.step,
                "project",
                desired.project,
                t.project_id,
                owner_of(t.tags),
                desired.pilot_id,
            )
        if change.resource.startswith("member_"):
            result = self.member_step(change, desired)
        else:
            result = self._do(change, desired)
        self.mutating_calls += 1
        self.calls.append(change.step)
        if failure:
            self._fail.remove(failure)
            raise CloudError(
                f"{change.step} failed: injected after the change", transient=failure[2]
            )
        return result

    def _do(self, change: Change, desired: DesiredTenant) -> StepResult:
        new = next(self._ids)
        kind = change.resource
        if kind == "domain":
            self.domains.add(desired.domain)
            return StepResult(desired.domain)
        if change.action == "delete":
            return self._delete(change, desired)
        if kind == "project" and change.action == "update":
            t = self.tenants[desired.project]
            t.enabled = change.detail.get("enabled", t.enabled)
            t.description = change.detail.get("description", t.description)
            t.tags = tuple(change.detail.get("tags", t.tags))
            return StepResult(t.project_id)
        if kind == "project":
            self.tenants[desired.project] = _Tenant(
                new,
                tuple(change.detail["tags"]),
                change.detail["description"],
                enabled=change.detail.get("enabled", True),
            )
            return StepResult(new)
        t = self.tenants[desired.project]
        if kind in ("group", "user"):
            self.identities[change.name] = new
            return StepResult(new)
        if kind == "role_assignment":
            role = change.detail.get("role", desired.member_role)
            if role not in self.roles:
                raise CloudError(f"{change.step} failed: the Keystone role {role!r} does not exist")
            t.flags.add("role" if role == desired.member_role else f"role:{role}")
        elif kind == "group_membership":
            t.flags.add("member")
        elif kind.endswith("_quota"):
            t.quotas[kind] = {**t.quotas.get(kind, {}), **change.detail}
        elif kind == "router_interface":
            t.flags.add("interface")
        elif kind == "security_group_rule" and change.action == "create":
            d = change.detail
            t.rules[new] = (d["protocol"], d["port_min"], d["port_max"], d["remote_cidr"])
        elif kind == "security_group_rule":
            t.rules.pop(change.detail["id"], None)
        elif kind == "application_credential":
            t.resources[kind] = new
            t.credential_expires_at = desired.expires_at
            return StepResult(
                new, secret=Secret(f"secret-{new}"), extra={"project_id": t.project_id}
            )
        else:
            t.resources[kind] = new
        return StepResult(new)

    def _delete(self, change: Change, desired: DesiredTenant) -> StepResult:
        kind = change.resource
        t = self.tenants.get(desired.project)
        if kind == "project":
            self.tenants.pop(desired.project, None)
        elif kind in ("user", "group"):
            self.identities.pop(change.name, None)
        elif t is not None and kind == "security_group_rule":
            t.rules.pop(change.detail["id"], None)
        elif t is not None and kind == "role_assignment":
            t.flags.discard(f"role:{change.detail['role']}")
        elif t is not None and kind == "router_interface":
            t.flags.discard("interface")
        elif t is not None:
            t.resources.pop(kind, None)
        return StepResult(change.detail.get("id"))

    def leftovers(self, desired: DesiredTenant, project_id: str | None) -> list[str]:
        return [f"project {desired.project}"] if desired.project in self.tenants else []

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        """``used`` per window for each project and metric (zero unless a test set it)."""
        return [
            UsageSample(p, m, self.used.get((p, m), Decimal(0)), _SOURCE.get(m, "nova"))
            for p in project_ids
            for m in METRICS
        ]

    def probe_isolation(
        self, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
    ) -> list[Probe]:
        return [Probe(pilot_id, target, "network", False, "404 not found") for target in targets]
