"""The cloud as the provisioner sees it, in our own words (a Protocol).

``openstack_backend.OpenStackBackend`` implements it with openstacksdk.  Tests
of the service's own logic (lost replies, injected failures) use
``provisioner.testing.InMemoryCloud``; cloud behaviour is tested against devcloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from provisioner.model import Change, DesiredTenant, ObservedTenant
from provisioner.secrets import Secret


class CloudError(Exception):
    """A cloud call failed; ``transient`` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class StepResult:
    resource_id: str | None = None
    secret: Secret | None = None  # only for application credentials
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CapacityLine:
    resource: str  # cores | ram_mb | disk_gb
    total: float  # (inventory − reserved) × allocation ratio: what can be allocated
    inventory: float
    allocation_ratio: float
    reserved: float = 0.0  # held back by the operator (Placement's "reserved")
    used: float = 0.0  # allocated to servers now (Placement's usages)


@dataclass(frozen=True)
class Probe:
    """One isolation check: can ``from_pilot`` see ``what`` of ``target``?"""

    from_pilot: str
    target: str
    what: str
    leaked: bool
    detail: str


class CloudBackend(Protocol):
    def observe(self, desired: DesiredTenant, *, deep: bool = False) -> ObservedTenant: ...

    def execute(self, change: Change, desired: DesiredTenant) -> StepResult: ...

    def leftovers(self, desired: DesiredTenant, project_id: str | None) -> list[str]: ...

    def capacity(self) -> list[CapacityLine]: ...

    def auth_url(self) -> str: ...

    def region(self) -> str | None: ...
