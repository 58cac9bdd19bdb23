"""What a pilot's tenant should look like, what the cloud has, and the changes between.

Every resource has a stable name derived from the pilot id (and the project
carries a tag), so a re-run finds what an earlier, possibly crashed, run made
and adopts it instead of creating a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

PILOT_TAG_PREFIX = "ngc-pilot:"
MANAGED_TAG = "ngc-pilot"


def owner_of(tags: tuple[str, ...] | list[str]) -> str | None:
    """The pilot id in a resource's ``ngc-pilot:<id>`` tag (None: no such tag).

    Compared exactly: pilot ids differing only in case map to one cloud name
    but are two owners.
    """
    return next((t[len(PILOT_TAG_PREFIX) :] for t in tags if t.startswith(PILOT_TAG_PREFIX)), None)


@dataclass(frozen=True)
class IngressRule:
    protocol: str
    port_min: int
    port_max: int
    remote_cidr: str
    ethertype: str = "IPv4"

    def key(self) -> tuple[str, int, int, str]:
        return (self.protocol, self.port_min, self.port_max, self.remote_cidr)


@dataclass(frozen=True)
class DesiredTenant:
    """Everything ngc-pilot will create for one pilot."""

    pilot_id: str
    size: str
    domain: str
    project: str
    description: str
    tags: tuple[str, ...]
    group: str
    member_role: str
    pi_user: str  # local user name (the PI's e-mail) or federated identity
    pi_email: str
    identity: str  # local | federated
    compute_quota: dict[str, int]
    network_quota: dict[str, int]
    volume_quota: dict[str, int]
    network: str
    subnet: str
    cidr: str
    dns_nameservers: tuple[str, ...]
    router: str
    external_network: str | None
    security_group: str
    ingress: tuple[IngressRule, ...]
    app_credential: str
    expires_at: datetime  # UTC-aware: end of the tenant's access
    flavor: str
    # Suspended: the project disabled (no new tokens, so no use of the
    # application credential) and compute and volume quotas zero.  Nothing is
    # deleted; network quotas stay, as the project's network still counts.
    suspended: bool = False
    # The members group holds ``data_access_role`` on the project.  With no
    # role configured (None) data access is neither observed nor planned.
    data_access: bool = False
    data_access_role: str | None = None


@dataclass(frozen=True)
class ObservedRule:
    id: str
    direction: str
    protocol: str | None
    port_min: int | None
    port_max: int | None
    remote_cidr: str | None
    remote_group: str | None
    ethertype: str

    def key(self) -> tuple[str | None, int | None, int | None, str | None]:
        return (self.protocol, self.port_min, self.port_max, self.remote_cidr)


@dataclass(frozen=True)
class ForeignResource:
    """A resource under one of this pilot's names that is not this pilot's.

    ``owner`` is the pilot whose ``ngc-pilot:<id>`` tag it carries, or None
    when it carries no pilot's tag (nobody has claimed it for this pilot).
    """

    kind: str
    name: str
    id: str
    owner: str | None


@dataclass(frozen=True)
class ObservedTenant:
    """What the cloud has now for the pilot (None: missing)."""

    domain_id: str | None = None
    project_id: str | None = None
    project_enabled: bool | None = None
    project_tags: tuple[str, ...] = ()
    project_description: str | None = None
    group_id: str | None = None
    group_has_role: bool = False
    group_has_data_access: bool = False
    missing_roles: tuple[str, ...] = ()  # roles the desired state names that Keystone lacks
    user_id: str | None = None
    user_in_group: bool = False
    compute_quota: dict[str, int] = field(default_factory=dict)
    network_quota: dict[str, int] = field(default_factory=dict)
    volume_quota: dict[str, int] = field(default_factory=dict)
    network_id: str | None = None
    subnet_id: str | None = None
    subnet_cidr: str | None = None
    router_id: str | None = None
    router_has_interface: bool = False
    router_gateway: str | None = None
    security_group_id: str | None = None
    security_group_rules: tuple[ObservedRule, ...] = ()
    default_group_rules: tuple[ObservedRule, ...] = ()  # the project's "default" SG
    app_credential_id: str | None = None
    # When the application credential expires (UTC); None: not readable (or none).
    # A credential whose expiry differs from the desired one is renewed.
    app_credential_expires_at: datetime | None = None
    servers: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()  # ports not owned by the router interface / dhcp
    # Resources found under this pilot's names that another pilot owns (or that
    # nobody claimed): plan and teardown refuse while there are any.
    foreign: tuple[ForeignResource, ...] = ()
    # The PI's user is also in another pilot's group (one PI, two pilots): this
    # tenant uses it but its teardown leaves it.  Observed only when ``deep``.
    user_shared: bool = False

    @property
    def exists(self) -> bool:
        return self.project_id is not None


Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    """One step of a plan; ``resource`` names the backend operation."""

    action: Action
    resource: str
    name: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def step(self) -> str:
        return f"{self.action} {self.resource} {self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "name": self.name,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Plan:
    pilot_id: str
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    def as_dict(self) -> dict[str, Any]:
        return {"pilot": self.pilot_id, "changes": [c.as_dict() for c in self.changes]}
