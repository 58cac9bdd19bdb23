"""Prometheus families of how tenants use their quota and how the evaluation stands.

Why this exists: issue 12 asks ``/metrics`` for utilisation per tenant (used /
quota per resource), evaluation responses received per area and open support
items per area.  :mod:`ngc_pilot.metrics` runs the two queries here inside its
one scrape transaction (so a scrape stays a fixed number of queries however
many tenants there are) and yields the families built here (every
evaluation area has a sample, 0 included); this module is
apart only to keep that one under 600 lines.

What it does NOT do: run queries itself, touch the cloud, or invent values —
a tenant without usage in the latest metered window, or without a quota for a
resource, has no utilisation sample.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import Metric
from sqlalchemy import func, literal, select, union_all
from sqlmodel import col

from ngc_pilot.capacity_snapshot import ALLOCATING_STATES
from ngc_pilot.evaluation_models import EvaluationAnswer, SupportItem
from ngc_pilot.exposition import Family
from ngc_pilot.models import UsageRecord
from policies.evaluation import AREAS
from policies.tenancy import TenantPolicy

HOUR = 3600

# Utilisation: UsageRecord.metric -> (resource label, size-template field, quota
# factor to the usage's unit).  Usage of a window divided by its hours is the
# average held; memory is metered in GiB-hours and its quota is in MiB.
UTILISATION: dict[str, tuple[str, str, float]] = {
    "vcpu_hours": ("vcpus", "cores", 1.0),
    "ram_gb_hours": ("memory", "ram_mb", 1.0 / 1024),
    "volume_gb_hours": ("volume", "gigabytes", 1.0),
    "gpu_hours": ("gpus", "gpus", 1.0),
}


def latest_usage_query() -> Any:
    """Every tenant's usage in the latest metered window (metering writes zeros too).

    The window's start is found through ``ix_usage_record_window_start``, so
    this reads one window's rows however long the pilot has run.
    """
    latest = select(func.max(UsageRecord.window_start)).scalar_subquery()
    return select(
        UsageRecord.pilot_id,
        UsageRecord.metric,
        UsageRecord.quantity,
        UsageRecord.window_start,
        UsageRecord.window_end,
    ).where(UsageRecord.window_start == latest)


def areas_query() -> Any:
    """Per evaluation area: responses received (a response counts once in each area
    it answers) and support items still open, in one query."""
    responses = select(
        literal("evaluation").label("kind"),
        EvaluationAnswer.area,
        func.count(func.distinct(EvaluationAnswer.response_id)),
    ).group_by(EvaluationAnswer.area)
    support = (
        select(literal("support").label("kind"), SupportItem.area, func.count())
        .where(col(SupportItem.closed_at).is_(None))
        .group_by(SupportItem.area)
    )
    return union_all(responses, support)


def utilisation_family(
    tenants: Sequence[Any], latest_usage: Sequence[Any], policy: TenantPolicy
) -> Metric:
    """``tenants``: (pilot_id, state, size, planned_end) rows; ``latest_usage``: the rows
    of :func:`latest_usage_query`."""
    utilisation = Family(
        "ngc_pilot_tenant_utilisation_ratio",
        "Used / quota per tenant and resource (vcpus, memory, volume, gpus). Used is the "
        "average held over the latest metered window (usually the last hour): the "
        "window's vCPU-, GiB- or GPU-hours divided by its length in hours; quota is the "
        "tenant's size (as ngc_pilot_tenant_quota_*). Tenants holding a quota only.",
        "gauge",
        ["pilot", "resource"],
    )
    sizes = {pilot_id: size for pilot_id, state, size, _ in tenants if state in ALLOCATING_STATES}
    for pilot_id, metric, quantity, start, end in latest_usage:
        found = UTILISATION.get(metric)
        size = policy.sizes.get(sizes.get(pilot_id, ""))
        if found is None or size is None:
            continue
        resource, attribute, factor = found
        quota = float(getattr(size, attribute)) * factor
        hours = (end - start).total_seconds() / HOUR
        if quota > 0 and hours > 0:
            utilisation.add_metric([pilot_id, resource], float(quantity) / hours / quota)
    return utilisation


def area_families(areas: Sequence[Any]) -> Iterator[Metric]:
    """``areas``: the rows of :func:`areas_query`."""
    responses = Family(
        "ngc_pilot_evaluation_responses",
        "Evaluation responses received per area (a respondent's response for a pilot "
        "counts once in each area it answers; re-imports update, never add).",
        "gauge",
        ["area"],
    )
    support = Family(
        "ngc_pilot_support_items_open",
        "Support log items not yet closed, per area.",
        "gauge",
        ["area"],
    )
    # Every area has a sample, 0 included: "nothing received" is a figure the
    # steering group reads, and a missing series looks like a broken exporter.
    counts = {(kind, area): 0.0 for kind in ("evaluation", "support") for area in AREAS}
    for kind, area, count in areas:
        counts[(kind, area)] = float(count)
    family = {"evaluation": responses, "support": support}
    for (kind, area), count in sorted(counts.items()):
        family[kind].add_metric([area], count)
    yield responses
    yield support
