"""The cloud as the provisioner sees it, in our own words (Protocols).

Three protocols, because not every caller needs every power:

* :class:`CloudBackend` observes a tenant, executes one planned change,
  reports leftovers and capacity;
* :class:`UsageReader` says how much each project used in a window;
* :class:`IsolationProbe` acts as one tenant and tries to see the others;
* :class:`BulkObserver` observes many tenants at once (:func:`observe_all`
  falls back to one at a time);
* :class:`ClusterBackend` is the Kubernetes counterpart of ``CloudBackend``
  (a namespace tenant instead of a project).

A backend package (``provisioner.openstack``; ``provisioner.kubernetes`` in
the same shape) implements all three.  Tests of the service's own logic (lost
replies, injected failures) use ``provisioner.testing.InMemoryCloud``; cloud
behaviour is tested against devcloud.

What this module deliberately does not do: import any SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from provisioner.model import Change, DesiredTenant, ObservedTenant
from provisioner.secrets import Secret
from provisioner.usage import UsageSample

if TYPE_CHECKING:  # the Kubernetes plan imports this module's errors
    from provisioner.kubernetes.desired import NamespaceTenant
    from provisioner.kubernetes.plan import ObservedNamespace


class CloudError(Exception):
    """A cloud call failed; ``transient`` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ForeignResourceError(CloudError):
    """A resource under this pilot's names belongs to another pilot: never adopted or deleted.

    Permanent (a person must find out why two pilots' names meet); raised
    before anything is changed.
    """

    def __init__(
        self, step: str, kind: str, name: str, resource_id: str, owner: str | None, pilot: str
    ):
        whose = (
            f"pilot {owner}'s"
            if owner
            else "not tagged as any pilot's, so not known as this pilot's"
        )
        super().__init__(
            f"refusing to {step} for pilot {pilot}: {kind} {name} ({resource_id}) is "
            f"{whose}; nothing was changed"
        )
        self.kind, self.name, self.resource_id = kind, name, resource_id
        self.owner, self.pilot = owner, pilot


@dataclass(frozen=True)
class StepResult:
    resource_id: str | None = None
    secret: Secret | None = None  # only for application credentials
    extra: dict[str, str] = field(default_factory=dict)
    # False when the cloud's answer did not show the state the change asked
    # for (a quota set answering other limits): the run then looks again
    # instead of taking the plan as done (``provisioner.plan.settled_by_answers``).
    confirmed: bool = True


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
    """Observe a tenant, execute one planned change, report leftovers and capacity."""

    def observe(self, desired: DesiredTenant, *, deep: bool = False) -> ObservedTenant: ...

    def execute(self, change: Change, desired: DesiredTenant) -> StepResult: ...

    def leftovers(self, desired: DesiredTenant, project_id: str | None) -> list[str]: ...

    def capacity(self) -> list[CapacityLine]: ...

    def auth_url(self) -> str: ...

    def region(self) -> str | None: ...


class ClusterBackend(Protocol):
    """Observe a namespace tenant, execute one planned change, report leftovers and capacity."""

    def observe(self, tenant: NamespaceTenant) -> ObservedNamespace: ...

    def execute(self, change: Change, tenant: NamespaceTenant) -> StepResult: ...

    def leftovers(self, tenant: NamespaceTenant) -> list[str]: ...

    def capacity(self, *, excluding: str | None = None) -> list[CapacityLine]: ...

    def server(self) -> str: ...


@runtime_checkable
class UsageReader(Protocol):
    """How much of each metric each project used in a window."""

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        """One sample per project in ``project_ids`` and metric measured, for ``[start, end)``."""
        ...


@runtime_checkable
class IsolationProbe(Protocol):
    """Act as one tenant (its own credential) and try to reach every other tenant."""

    def probe_isolation(
        self, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
    ) -> list[Probe]:
        """One :class:`Probe` per thing tried; ``targets``: pilot -> its resource ids."""
        ...


@runtime_checkable
class BulkObserver(Protocol):
    """A backend that observes many tenants from one listing per resource kind."""

    def observe_many(
        self, desired_list: Sequence[DesiredTenant]
    ) -> list[ObservedTenant | CloudError]:
        """One entry per tenant, in order: its observation (not deep) or its own error."""
        ...


def observe_all(
    backend: CloudBackend, desired_list: Sequence[DesiredTenant]
) -> list[ObservedTenant | CloudError]:
    """Every tenant's observation (not deep): in bulk when ``backend`` can, else one by one.

    A failed bulk listing raises :class:`CloudError`; a tenant's own failure is its entry.
    """
    if isinstance(backend, BulkObserver):
        return backend.observe_many(desired_list)
    found: list[ObservedTenant | CloudError] = []
    for desired in desired_list:
        try:
            found.append(backend.observe(desired))
        except CloudError as exc:
            found.append(exc)
    return found


def isolation_probe(backend: object) -> IsolationProbe:
    """``backend`` as an :class:`IsolationProbe`; a permanent CloudError if it cannot probe."""
    if not isinstance(backend, IsolationProbe):
        raise CloudError(f"the cloud backend {type(backend).__name__} cannot probe isolation")
    return backend
