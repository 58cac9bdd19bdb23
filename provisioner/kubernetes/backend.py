"""The Kubernetes backend: one object wiring the modules of this package behind the provisioner's protocols.

:class:`KubernetesBackend` acts as the user of a kubeconfig (an admin) and
delegates each concern to its module: ``observe`` (and leftovers),
``steps`` (one handler per planned change, chosen by the explicit table
``steps.STEPS``), ``capacity``, ``usage``, ``isolation``.  It counts mutating calls, so a
no-op re-apply can be shown to make none.  It runs a plan through
:func:`provisioner.apply.apply` like the OpenStack backend: ``execute(change,
tenant)`` with a :class:`~provisioner.kubernetes.desired.NamespaceTenant`.

What this module deliberately does not do: decide anything, or talk to the
cluster itself beyond wiring; client errors are translated here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from provisioner.backend import CapacityLine, CloudError, Probe, StepResult
from provisioner.kubernetes import capacity as capacity_
from provisioner.kubernetes import isolation
from provisioner.kubernetes import observe as observe_
from provisioner.kubernetes.connection import CLIENT_ERRORS, Cluster, load, translate_error
from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.kubernetes.plan import ObservedNamespace
from provisioner.kubernetes.steps import STEPS
from provisioner.kubernetes.usage import KubernetesUsage
from provisioner.model import Change
from provisioner.usage import UsageSample


class KubernetesBackend:
    """Observe, execute, capacity, usage and isolation probe over the ``kubernetes`` client, as an admin."""

    def __init__(self, kubeconfig: Path, context: str | None = None):
        self.kubeconfig = kubeconfig
        self.cluster: Cluster = load(kubeconfig, context)
        self.mutating_calls = 0

    def close(self) -> None:
        self.cluster.close()

    def server(self) -> str:
        return self.cluster.server

    def observe(self, tenant: NamespaceTenant) -> ObservedNamespace:
        try:
            return observe_.observe(self.cluster, tenant)
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, f"observing namespace {tenant.namespace}") from exc

    def execute(self, change: Change, tenant: NamespaceTenant) -> StepResult:
        handler = STEPS.get((change.action, change.resource))
        if handler is None:
            raise CloudError(f"{change.step}: the Kubernetes backend has no such step")
        try:
            result = handler(self.cluster, change, tenant)
        except CloudError:
            raise
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, change.step) from exc
        self.mutating_calls += 1
        return result

    def leftovers(self, tenant: NamespaceTenant) -> list[str]:
        try:
            return observe_.leftovers(self.cluster, tenant)
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, f"looking for {tenant.namespace}") from exc

    def capacity(self, *, excluding: str | None = None) -> list[CapacityLine]:
        """Nodes' allocatable cores, RAM (MiB) and GPUs; ``used``: what all quotas promise.

        ``excluding`` leaves one namespace's quotas out (the tenant being re-sized).
        """
        core = self.cluster.core()
        try:
            nodes = [dict(n.status.allocatable or {}) for n in core.list_node().items]
            hards = [
                dict(q.spec.hard or {})
                for q in core.list_resource_quota_for_all_namespaces().items
                if q.metadata.namespace != excluding
            ]
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, "reading the cluster's capacity") from exc
        return capacity_.node_lines(nodes, capacity_.total_promise(hards))

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        """Metered usage of the namespaces ``project_ids`` in ``[start, end)`` (see ``usage``)."""
        return KubernetesUsage(self.cluster).usage(project_ids, start, end)

    def probe_isolation(
        self, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
    ) -> list[Probe]:
        return isolation.probe_isolation(self.cluster, pilot_id, credential, targets)

    def probe_revoked(self, pilot_id: str, target: str, credential: dict[str, str]) -> Probe:
        """Whether the API refuses a removed member's token as unauthenticated (401)."""
        return isolation.probe_revoked(self.cluster, pilot_id, target, credential)
