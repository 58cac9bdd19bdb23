"""Prometheus families of the researchers' side: change requests waiting and notices undelivered.

Why this exists: operations must see a change request waiting for a decision
(issue 11: pending requests and their age) and a notice that could not be
delivered (failed or in doubt).  :mod:`ngc_pilot.metrics` runs the two
aggregate queries here inside its one scrape transaction and yields the
families built here; this module is apart to keep that one under 600 lines.

What it does NOT do: run queries itself, or decide anything about a request or
a message — it only counts them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client.core import Metric
from sqlalchemy import func, select

from ngc_pilot.exposition import Family
from ngc_pilot.models import OutboxMessage
from ngc_pilot.request_models import KINDS as REQUEST_KINDS
from ngc_pilot.request_models import ChangeRequest


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> Family:
    return Family(name, documentation, "gauge", labels)


def requests_query() -> Any:
    """Pending change requests per kind and when the oldest was filed: one aggregate."""
    return (
        select(ChangeRequest.kind, func.count(), func.min(ChangeRequest.filed_at))
        .where(ChangeRequest.status == "pending")
        .group_by(ChangeRequest.kind)
    )


def outbox_query() -> Any:
    """Messages in the outbox per delivery status: one aggregate."""
    return select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)


def request_families(rows: Sequence[Any], read_at: datetime) -> Iterator[Metric]:
    pending = gauge(
        "ngc_pilot_change_requests_pending",
        "Change requests waiting for a decision, per kind.",
        labels=["kind"],
    )
    oldest = gauge(
        "ngc_pilot_change_request_oldest_pending_age_seconds",
        "How long the oldest pending change request has waited (no sample: none pending).",
    )
    counts = {kind: 0 for kind in REQUEST_KINDS}
    filed = []
    for kind, count, first in rows:
        counts[kind] = int(count)
        filed.append(first)
    for kind, count in counts.items():
        pending.add_metric([kind], float(count))
    if filed:
        oldest.add_metric([], max(0.0, (read_at - min(filed)).total_seconds()))
    yield pending
    yield oldest


OUTBOX_STATUSES = ("queued", "claimed", "sending", "sent", "failed", "in_doubt")


def outbox_families(rows: Sequence[Any]) -> Iterator[Metric]:
    """Messages in the outbox by delivery status (every status, zeros included,
    so an alert on ``failed > 0`` has a series to watch)."""
    family = gauge(
        "ngc_pilot_outbox_messages",
        "Messages in the outbox by delivery status (queued, claimed, sending, sent, failed, in_doubt).",
        labels=["status"],
    )
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    for status, count in rows:
        counts[status] = int(count)
    for status, count in counts.items():
        family.add_metric([status], float(count))
    yield family
