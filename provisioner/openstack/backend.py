"""The OpenStack backend: one object implementing the provisioner's protocols.

:class:`OpenStackBackend` is a :class:`provisioner.backend.CloudBackend`, a
:class:`~provisioner.backend.UsageReader` and an
:class:`~provisioner.backend.IsolationProbe`, acting as the ``cloud`` entry
of a ``clouds.yaml`` (an admin).  It holds the connection and delegates each
concern to its module: ``observe`` (and leftovers), ``steps`` (one handler
per planned change, chosen by the explicit table ``steps.STEPS``),
``capacity``, ``usage``, ``isolation``.

What this module deliberately does not do: talk to OpenStack itself, or
decide anything; it only wires the modules and translates SDK errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from provisioner.backend import CapacityLine, CloudError, Probe, StepResult
from provisioner.members import DesiredMember, ObservedMember
from provisioner.model import Change, DesiredTenant, ObservedTenant
from provisioner.openstack import capacity as capacity_
from provisioner.openstack import isolation, observe_bulk
from provisioner.openstack import members as members_
from provisioner.openstack import observe as observe_
from provisioner.openstack.connection import (
    ENDPOINT_CONCURRENCY,
    SDK_ERRORS,
    TRANSIENT,
    Admin,
    connect,
    shared_config,
    translate_error,
)
from provisioner.openstack.steps import STEPS
from provisioner.openstack.usage import OpenStackUsage
from provisioner.usage import UsageSample

# The APIs a bulk observation reads from at once (Keystone, Neutron, Nova, Cinder).
READ_APIS = 4


class OpenStackBackend:
    """CloudBackend, UsageReader and IsolationProbe over openstacksdk, as an admin."""

    def __init__(self, cloud: str, clouds_file: Path | None = None):
        self.cloud = cloud
        self.clouds_file = clouds_file
        try:
            conn = connect(cloud, clouds_file)
            config = shared_config(cloud, clouds_file)
        except Exception as exc:  # noqa: BLE001 - config errors come in many types
            raise CloudError(
                f"cannot load cloud {cloud!r} from {clouds_file or 'clouds.yaml'}: {exc}"
            ) from exc
        self.admin = Admin(conn, config)
        self.mutating_calls = 0
        self._usage: OpenStackUsage | None = None

    @property
    def conn(self) -> Any:
        """The admin ``openstack.connection.Connection`` (benchmarks reuse it)."""
        return self.admin.conn

    def auth_url(self) -> str:
        return self.admin.auth_url()

    def region(self) -> str | None:
        return self.admin.region()

    # ------------------------------------------------------------ CloudBackend

    def observe(self, desired: DesiredTenant, *, deep: bool = False) -> ObservedTenant:
        """What exists for ``desired``; ``deep`` also lists researchers' servers, volumes, ports."""
        self.admin.known.clear()  # steps from here on act on what this look found
        try:
            return observe_.observe(self.admin, desired, deep)
        except TRANSIENT as exc:
            raise translate_error(exc, f"observing {desired.project}") from exc

    def observe_many(
        self, desired_list: Sequence[DesiredTenant]
    ) -> list[ObservedTenant | CloudError]:
        """Each tenant's observation (not deep) from one listing per resource kind.

        One entry per ``desired_list`` item, in order: its observation, or the
        CloudError its own per-tenant reads raised.  A failed listing raises.
        """
        self.admin.known.clear()
        # Two pools: the tenants' workers wait for reads sent through the other.
        # The reads' pool holds a full connection pool's worth per API (Keystone,
        # Neutron, Nova, Cinder): a slow API's reads (Neutron's listings, Nova's
        # quotas) then never hold back another's (the PIs' credentials, Keystone).
        with (
            ThreadPoolExecutor(max_workers=READ_APIS * ENDPOINT_CONCURRENCY) as reads_pool,
            ThreadPoolExecutor(max_workers=ENDPOINT_CONCURRENCY) as tenants,
        ):
            try:
                reads = observe_bulk.snapshot(self.admin, desired_list, reads_pool)
            except TRANSIENT as exc:
                raise translate_error(exc, f"observing {len(desired_list)} tenants") from exc

            def one(desired: DesiredTenant) -> ObservedTenant | CloudError:
                try:
                    return observe_bulk.observe_one(self.admin, reads, desired)
                except TRANSIENT as exc:
                    return translate_error(exc, f"observing {desired.project}")

            # What is still read per tenant (quotas, membership, credential) is
            # sent at once, as many requests as the shared pool lets through.
            return list(tenants.map(one, desired_list))

    def execute(self, change: Change, desired: DesiredTenant) -> StepResult:
        handler = STEPS.get((change.action, change.resource))
        if handler is None:
            raise CloudError(f"{change.step}: the OpenStack backend has no such step")
        try:
            result = handler(self.admin, change, desired)
        except CloudError:
            raise
        except SDK_ERRORS as exc:
            raise translate_error(exc, change.step) from exc
        self.mutating_calls += 1
        return result

    def leftovers(self, desired: DesiredTenant, project_id: str | None) -> list[str]:
        """Anything of the pilot still present in any service (empty = clean)."""
        return observe_.leftovers(self.admin, desired, project_id)

    def capacity(self) -> list[CapacityLine]:
        """Placement inventory and usage of all compute nodes, with allocation ratios."""
        return capacity_.capacity(self.admin)

    # -------------------------------------------------------------- MemberCloud

    def observe_member(self, desired: DesiredTenant, member: DesiredMember) -> ObservedMember:
        """What the member has now (user, group or reader role, credential, keypair)."""
        try:
            return members_.observe_member(self.admin, desired, member)
        except TRANSIENT as exc:
            raise translate_error(exc, f"observing member {member.email}") from exc

    def token_works(self, credential: dict[str, str]) -> bool:
        """Whether Keystone issues a token for this application credential now."""
        try:
            return members_.token_works(self.admin, credential)
        except SDK_ERRORS as exc:
            raise translate_error(exc, "asking Keystone for a token") from exc

    # ------------------------------------------------------------- UsageReader

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        """Metered usage of ``project_ids`` in ``[start, end)`` (see ``openstack.usage``)."""
        if self._usage is None:
            self._usage = OpenStackUsage(self.admin.conn)
        return self._usage.usage(project_ids, start, end)

    # ---------------------------------------------------------- IsolationProbe

    def probe_isolation(
        self, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
    ) -> list[Probe]:
        """Act as ``pilot_id``'s application credential and try to see every other tenant."""
        return isolation.probe_isolation(self.admin, pilot_id, credential, targets)
