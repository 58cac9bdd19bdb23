"""Prometheus ``/metrics``: the pilot's capacity, usage, cost and health, read from the database.

Why this exists: operations and the steering group watch the pilot in
Grafana; Prometheus scrapes ``ngc-pilot serve``.  A scrape must stay cheap
and must never touch the cloud, so :class:`PilotCollector` reads only the
database — a fixed handful of aggregate queries per scrape, however many
tenants there are — and builds every metric family afresh; nothing carries
over between scrapes.  The cloud is read by the scheduler's jobs (metering,
capacity snapshots), whose results land in the tables read here.

Names follow Prometheus conventions: base units (seconds, bytes), counters end
in ``_total``, and one metric family has one unit, so quantities of different
kinds (cores, bytes) are separate families rather than one family with a
"resource" label.  No label is called ``job`` or ``instance``: Prometheus
sets those itself and would rename ours, so a scheduled job is ``job_id``.
Money is in Danish kroner (``_dkk``), the price list's currency.  OpenStack
counts memory in MiB and disk and volumes in GiB; they are converted to bytes
here.

The families are :class:`ngc_pilot.exposition.Family` — ordinary
prometheus_client metrics for the registry, ``generate_latest`` and tests —
and the HTTP endpoint renders them with :func:`ngc_pilot.exposition.render`,
several times faster than prometheus_client's renderer with 1,000 tenants.

What it deliberately does not do: serve anything but metrics, keep history
(Prometheus does), or invent values for what is not measured — a family with
no data yields no samples.  The usage counters come from ``usage_total``,
which database triggers keep equal to the sum of the usage records, so a
scrape costs the same after a year as after a day (``bench/metering.py
metrics`` measures both).

Why it is one module of over 400 lines: the queries of one scrape
(:func:`read`), the families built from their rows and the collector that
ties them together are one contract — each family's labels and units follow
from the query that feeds it, and the "fixed handful of queries however many
tenants" guarantee holds only if every family reads from the same
:class:`Reading`.  Split, a new family could quietly add a query per tenant.
The small WSGI endpoint at the end serves these families; ``serve`` puts
:class:`ngc_pilot.metrics_cache.ScrapeCache` in front, which reuses the rendered
per-tenant families while their rows are unchanged (the collector itself keeps
nothing between scrapes).  The
utilisation and evaluation-area families are built in
:mod:`ngc_pilot.metrics_utilisation`, the change-request and outbox families in
:mod:`ngc_pilot.metrics_workflow`, from rows read here in the same transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from sqlalchemy import Engine, and_, func, literal, select, union_all
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from ngc_pilot.capacity_snapshot import ALLOCATING_STATES, QUOTA_FIELD
from ngc_pilot.exposition import Family
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.metrics_utilisation import (
    area_families,
    areas_query,
    latest_usage_query,
    utilisation_family,
)
from ngc_pilot.metrics_workflow import (
    outbox_families,
    outbox_query,
    request_families,
    requests_query,
)
from ngc_pilot.models import (
    CapacitySnapshot,
    Invoice,
    JobRun,
    Pilot,
    ProvisionStep,
    Tenant,
    UsageRecord,
    UsageTotal,
)
from policies.tenancy import TenantPolicy

log = logging.getLogger(__name__)

MIB = 2**20
GIB = 2**30
HOUR = 3600

# Placement resource class -> (name part in base units, factor to base units, what).
CAPACITY_UNITS: dict[str, tuple[str, float, str]] = {
    "VCPU": ("vcpus", 1.0, "virtual CPUs"),
    "MEMORY_MB": ("memory_bytes", float(MIB), "memory in bytes"),
    "DISK_GB": ("disk_bytes", float(GIB), "compute nodes' local disk in bytes"),
}

# UsageRecord.metric -> (counter name without _total, factor to base units, help).
USAGE_METRICS: dict[str, tuple[str, float, str]] = {
    "vcpu_hours": ("ngc_pilot_usage_vcpu_seconds", HOUR, "vCPU time used (vCPU-seconds)."),
    "ram_gb_hours": (
        "ngc_pilot_usage_memory_byte_seconds",
        HOUR * GIB,
        "Memory held by servers (byte-seconds).",
    ),
    "disk_gb_hours": (
        "ngc_pilot_usage_disk_byte_seconds",
        HOUR * GIB,
        "Local disk held by servers (byte-seconds).",
    ),
    "volume_gb_hours": (
        "ngc_pilot_usage_volume_byte_seconds",
        HOUR * GIB,
        "Block storage volumes held (byte-seconds).",
    ),
    "gpu_hours": ("ngc_pilot_usage_gpu_seconds", HOUR, "GPU time used (GPU-seconds)."),
}

# Quota families: (name, size-template field, factor to base units, help).  The
# quotas capacity is planned on; object counts (instances, ports, ...) are in
# `ngc-pilot tenants show`, and every series costs each scrape.
QUOTAS: tuple[tuple[str, str, float, str], ...] = (
    ("ngc_pilot_tenant_quota_vcpus", "cores", 1.0, "vCPUs the tenant's size allows."),
    (
        "ngc_pilot_tenant_quota_memory_bytes",
        "ram_mb",
        float(MIB),
        "Memory the tenant's size allows, in bytes.",
    ),
    (
        "ngc_pilot_tenant_quota_volume_bytes",
        "gigabytes",
        float(GIB),
        "Block storage the tenant's size allows, in bytes.",
    ),
    ("ngc_pilot_tenant_quota_gpus", "gpus", 1.0, "GPUs the tenant's size allows (GPU sizes only)."),
)

FINISHED = ("succeeded", "failed")


# ------------------------------------------------------------------------- reading


@dataclass
class Reading:
    """Everything one scrape needs, read in a fixed number of queries."""

    capacity: list[Any] = field(default_factory=list)
    # pilot_id, platform, state, size, planned_end
    tenants: list[Any] = field(default_factory=list)
    usage: list[Any] = field(default_factory=list)  # pilot_id, metric, quantity
    costs: list[Any] = field(default_factory=list)  # pilot_id, list, charged
    job_counts: list[Any] = field(default_factory=list)  # job, status, runs, last finished
    job_last: list[Any] = field(default_factory=list)  # job, status, started, finished, seconds
    step_failures: list[Any] = field(default_factory=list)  # pilot_id, resource, count
    # pilot_id, metric, quantity, window_start, window_end: the latest metered window
    latest_usage: list[Any] = field(default_factory=list)
    areas: list[Any] = field(default_factory=list)  # kind (evaluation|support), area, count
    requests: list[Any] = field(default_factory=list)  # kind, pending, oldest filed_at
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # ages are as of it
    outbox: list[Any] = field(default_factory=list)  # status, count
    seconds: float = 0.0


def capacity_query() -> Any:
    latest = select(func.max(CapacitySnapshot.taken_at)).scalar_subquery()
    return select(
        CapacitySnapshot.resource_class,
        CapacitySnapshot.taken_at,
        CapacitySnapshot.total,
        CapacitySnapshot.reserved,
        CapacitySnapshot.allocation_ratio,
        CapacitySnapshot.used,
        CapacitySnapshot.allocated,
    ).where(CapacitySnapshot.taken_at == latest)


def tenants_query() -> Any:
    """Every tenant on both platforms, in one query (a UNION ALL keeps the count fixed)."""
    openstack = select(
        Tenant.pilot_id,
        literal("openstack").label("platform"),
        Tenant.state,
        Tenant.size,
        Pilot.planned_end,
    ).join(Pilot, Pilot.id == Tenant.pilot_id)
    kubernetes = select(
        KubeTenant.pilot_id,
        literal("kubernetes").label("platform"),
        KubeTenant.state,
        KubeTenant.size,
        Pilot.planned_end,
    ).join(Pilot, Pilot.id == KubeTenant.pilot_id)
    return union_all(openstack, kubernetes)


def usage_query() -> Any:
    """Usage so far per tenant and metric: the triggers' running sums (``UsageTotal``)."""
    return select(UsageTotal.pilot_id, UsageTotal.metric, UsageTotal.quantity)


def usage_summed_query() -> Any:
    """The same figures summed from every record: what ``usage_total`` saves (tests, bench)."""
    return select(
        UsageRecord.pilot_id, UsageRecord.metric, func.sum(UsageRecord.quantity)
    ).group_by(UsageRecord.pilot_id, UsageRecord.metric)


def costs_query() -> Any:
    """List and charged totals per pilot over the latest revision of each month."""
    latest = (
        select(Invoice.pilot_id, Invoice.month, func.max(Invoice.revision).label("revision"))
        .where(Invoice.currency == "DKK")
        .group_by(Invoice.pilot_id, Invoice.month)
        .subquery()
    )
    return (
        select(Invoice.pilot_id, func.sum(Invoice.list_total), func.sum(Invoice.charged_total))
        .join(
            latest,
            and_(
                Invoice.pilot_id == latest.c.pilot_id,
                Invoice.month == latest.c.month,
                Invoice.revision == latest.c.revision,
            ),
        )
        .where(Invoice.currency == "DKK")
        .group_by(Invoice.pilot_id)
    )


def job_counts_query() -> Any:
    return select(
        JobRun.job_id, JobRun.status, func.count(), func.max(JobRun.finished_at)
    ).group_by(JobRun.job_id, JobRun.status)


def job_last_query() -> Any:
    """The latest finished run of each job (skipped and running ones are not results)."""
    latest = (
        select(JobRun.job_id, func.max(JobRun.started_at).label("started_at"))
        .where(col(JobRun.status).in_(FINISHED))
        .group_by(JobRun.job_id)
        .subquery()
    )
    return (
        select(
            JobRun.job_id,
            JobRun.status,
            JobRun.started_at,
            JobRun.finished_at,
            JobRun.duration_seconds,
        )
        .join(
            latest,
            and_(JobRun.job_id == latest.c.job_id, JobRun.started_at == latest.c.started_at),
        )
        .where(col(JobRun.status).in_(FINISHED))
        .order_by(JobRun.id)
    )


def step_failures_query() -> Any:
    return (
        select(ProvisionStep.pilot_id, ProvisionStep.resource, func.count())
        .where(ProvisionStep.status == "failed")
        .group_by(ProvisionStep.pilot_id, ProvisionStep.resource)
    )


def read(engine: Engine) -> Reading:
    """One scrape's data: eleven queries on one connection, in one transaction."""
    started = time.perf_counter()
    with engine.connect() as conn, conn.begin():
        reading = Reading(
            capacity=conn.execute(capacity_query()).all(),
            tenants=conn.execute(tenants_query()).all(),
            usage=conn.execute(usage_query()).all(),
            costs=conn.execute(costs_query()).all(),
            job_counts=conn.execute(job_counts_query()).all(),
            job_last=conn.execute(job_last_query()).all(),
            step_failures=conn.execute(step_failures_query()).all(),
            latest_usage=conn.execute(latest_usage_query()).all(),
            areas=conn.execute(areas_query()).all(),
            requests=conn.execute(requests_query()).all(),
            outbox=conn.execute(outbox_query()).all(),
        )
    reading.seconds = time.perf_counter() - started
    return reading


# ------------------------------------------------------------------------ families


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> Family:
    return Family(name, documentation, "gauge", labels)


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Family:
    return Family(name, documentation, "counter", labels)


def _timestamp(value: datetime | date) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.combine(value, dtime(0, 0), tzinfo=UTC).timestamp()


def capacity_families(reading: Reading) -> Iterator[Metric]:
    snapshot = gauge(
        "ngc_pilot_capacity_snapshot_timestamp_seconds",
        "When the capacity figures were read from Placement.",
    )
    ratio = gauge(
        "ngc_pilot_capacity_allocation_ratio",
        "Placement's effective over-commit ratio per resource class.",
        labels=["resource_class"],
    )
    kinds = {
        "inventory": "Placement inventory of all compute nodes",
        "reserved": "Held back from allocation by the operator",
        "allocatable": "What the cloud can allocate: (inventory - reserved) x allocation ratio",
        "used": "Allocated to servers now (Placement usages)",
        "allocated": "Promised to pilot tenants: the sum of their quotas",
    }
    families = {
        (resource_class, kind): gauge(f"ngc_pilot_capacity_{kind}_{unit}", f"{text}; {what}.")
        for resource_class, (unit, _, what) in CAPACITY_UNITS.items()
        for kind, text in kinds.items()
        if kind != "allocated" or resource_class in QUOTA_FIELD
    }
    if reading.capacity:
        snapshot.add_metric([], _timestamp(reading.capacity[0].taken_at))
    for row in reading.capacity:
        ratio.add_metric([row.resource_class], float(row.allocation_ratio))
        unit = CAPACITY_UNITS.get(row.resource_class)
        if unit is None:
            continue
        factor = unit[1]
        values = {
            "inventory": row.total,
            "reserved": row.reserved,
            "allocatable": (row.total - row.reserved) * row.allocation_ratio,
            "used": row.used,
            "allocated": row.allocated,
        }
        for kind, value in values.items():
            family = families.get((row.resource_class, kind))
            if family is not None:
                family.add_metric([], float(value) * factor)
    yield snapshot
    yield ratio
    yield from families.values()


def tenant_families(reading: Reading, policy: TenantPolicy) -> Iterator[Metric]:
    state = gauge(
        "ngc_pilot_tenant_state",
        "The state each pilot's tenant is in (1; one sample per tenant).",
        labels=["pilot", "platform", "state"],
    )
    expiry = gauge(
        "ngc_pilot_tenant_expiry_timestamp_seconds",
        "When the pilot's access ends: 00:00 UTC after its planned last day, "
        "when expiry suspends the tenant (tenants not torn down).",
        labels=["pilot", "platform"],
    )
    quotas = [
        (gauge(name, text, labels=["pilot", "platform"]), attribute, factor)
        for name, attribute, factor, text in QUOTAS
    ]
    # What each size grants, once per scrape rather than once per tenant.
    granted = {
        name: [
            (family, float(getattr(size, attribute)) * factor)
            for family, attribute, factor in quotas
            if getattr(size, attribute) or attribute != "gpus"  # no GPU quota: no sample
        ]
        for name, size in policy.sizes.items()
    }
    ends: dict[date, float] = {}
    for pilot_id, platform, tenant_state, size_name, planned_end in reading.tenants:
        state.add_metric((pilot_id, platform, tenant_state), 1.0)
        if tenant_state != "torn_down":
            end = ends.get(planned_end)
            if end is None:
                end = ends[planned_end] = _timestamp(planned_end + timedelta(days=1))
            expiry.add_metric((pilot_id, platform), end)
        if tenant_state in ALLOCATING_STATES:
            for family, amount in granted.get(size_name, ()):
                family.add_metric((pilot_id, platform), amount)
    yield state
    yield expiry
    for family, _, _ in quotas:
        yield family


def usage_families(reading: Reading) -> Iterator[Metric]:
    families = {
        metric: (counter(name, text, labels=["pilot"]), factor)
        for metric, (name, factor, text) in USAGE_METRICS.items()
    }
    for pilot_id, metric, quantity in reading.usage:
        found = families.get(metric)
        if found is not None:  # a metric this exporter does not know yet is left out
            found[0].add_metric((pilot_id,), float(quantity) * found[1])
    for family, _ in families.values():
        yield family


def cost_families(reading: Reading) -> Iterator[Metric]:
    listed = gauge(
        "ngc_pilot_cost_list_dkk",
        "List price of the pilot's usage so far, summed over the latest invoice revision of each month (DKK).",
        labels=["pilot"],
    )
    charged = gauge(
        "ngc_pilot_cost_charged_dkk",
        "What the pilot is charged after discounts, same invoices (DKK).",
        labels=["pilot"],
    )
    for pilot_id, list_total, charged_total in reading.costs:
        listed.add_metric([pilot_id], float(list_total))
        charged.add_metric([pilot_id], float(charged_total))
    yield listed
    yield charged


def job_families(reading: Reading) -> Iterator[Metric]:
    runs = counter(
        "ngc_pilot_job_runs", "Runs of each scheduled job by result.", labels=["job_id", "status"]
    )
    last_success = gauge(
        "ngc_pilot_job_last_success_timestamp_seconds",
        "When each job last finished successfully.",
        labels=["job_id"],
    )
    last_duration = gauge(
        "ngc_pilot_job_last_duration_seconds",
        "How long each job's latest finished run took.",
        labels=["job_id"],
    )
    last_ok = gauge(
        "ngc_pilot_job_last_run_succeeded",
        "1 if each job's latest finished run succeeded, 0 if it failed.",
        labels=["job_id"],
    )
    for job, status, count, finished in reading.job_counts:
        runs.add_metric([job, status], float(count))
        if status == "succeeded" and finished is not None:
            last_success.add_metric([job], _timestamp(finished))
    latest: dict[str, Any] = {}
    for row in reading.job_last:  # ordered by id: a tie keeps the later row
        latest[row.job_id] = row
    for job, row in sorted(latest.items()):
        if row.duration_seconds is not None:
            last_duration.add_metric([job], float(row.duration_seconds))
        last_ok.add_metric([job], 1.0 if row.status == "succeeded" else 0.0)
    yield runs
    yield last_success
    yield last_duration
    yield last_ok


def provisioning_families(reading: Reading) -> Iterator[Metric]:
    failures = counter(
        "ngc_pilot_provision_step_failures",
        "Provisioning steps that failed, per pilot and resource.",
        labels=["pilot", "resource"],
    )
    for pilot_id, resource, count in reading.step_failures:
        failures.add_metric([pilot_id, resource], float(count))
    yield failures


class PilotCollector:
    """A prometheus_client collector over the application database (see module doc)."""

    def __init__(
        self,
        engine: Engine,
        tenant_policy: TenantPolicy,
        reader: Callable[[Engine], Reading] | None = None,
    ):
        self.engine = engine
        self.tenant_policy = tenant_policy
        self.reader = reader or read  # another reader: the benchmark's per-tenant baseline

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        up = gauge("ngc_pilot_database_up", "1 if this scrape could read the database, 0 if not.")
        try:
            reading = self.reader(self.engine)
        except SQLAlchemyError as exc:
            # The type only: a driver's message may quote connection parameters.
            log.warning("metrics: reading the database failed (%s)", type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        seconds = gauge(
            "ngc_pilot_metrics_query_duration_seconds",
            "How long this scrape's database queries took.",
        )
        seconds.add_metric([], reading.seconds)
        yield seconds
        yield from capacity_families(reading)
        yield from tenant_families(reading, self.tenant_policy)
        yield from usage_families(reading)
        yield from cost_families(reading)
        yield from job_families(reading)
        yield from provisioning_families(reading)
        # Utilisation is against the OpenStack size (a namespace's usage is in the pilot's rows).
        on_openstack = [
            (p, st, sz, end) for p, plat, st, sz, end in reading.tenants if plat == "openstack"
        ]
        yield utilisation_family(on_openstack, reading.latest_usage, self.tenant_policy)
        yield from area_families(reading.areas)
        yield from request_families(reading.requests, reading.read_at)
        yield from outbox_families(reading.outbox)


def registry_for(engine: Engine, tenant_policy: TenantPolicy) -> CollectorRegistry:
    """A registry of its own with only the pilot's collector (no process or GC metrics)."""
    registry = CollectorRegistry()
    registry.register(PilotCollector(engine, tenant_policy))
    return registry
