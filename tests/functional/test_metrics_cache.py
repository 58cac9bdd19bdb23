"""``/metrics`` from the scrape cache is what the collector renders, after every kind of change.

:class:`ngc_pilot.metrics_cache.ScrapeCache` reuses the per-tenant blocks of a
scrape while their rows are unchanged; these tests change each block's input
(tenant state, planned end, a new tenant, usage, a recomputed window, a new
window, an invoice revision, a failed step) between two scrapes, on SQLite and
PostgreSQL, and require the body to equal, byte for byte, the collector's
families read afresh and rendered (the query-duration sample aside).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select
from support.metrics_seed import T0, add_pilots

from ngc_pilot import metrics
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.exposition import render
from ngc_pilot.metrics_cache import ScrapeCache
from ngc_pilot.models import Invoice, Pilot, ProvisionStep, Tenant, UsageRecord
from policies.tenancy import load_tenant_policy

pytestmark = pytest.mark.migrated

DURATION = re.compile(rb"^ngc_pilot_metrics_query_duration_seconds .*$", re.M)

TENANTS = {
    "P-ACT": ("active", "small", date(2030, 1, 31)),
    "P-SUS": ("suspended", "medium", date(2029, 6, 30)),
    "P-GPU": ("active", "gpu", date(2029, 12, 1)),
}


@pytest.fixture
def engine(database) -> Iterator:
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


def record(pilot_id: str, metric: str, hour: int, quantity: str) -> UsageRecord:
    start = T0 + timedelta(hours=hour)
    return UsageRecord(
        pilot_id=pilot_id,
        metric=metric,
        window_start=start,
        window_end=start + timedelta(hours=1),
        quantity=Decimal(quantity),
        source="test",
        collected_at=start + timedelta(hours=1),
    )


def invoice(pilot_id: str, revision: int, listed: str) -> Invoice:
    return Invoice(
        pilot_id=pilot_id,
        month="2021-05",
        revision=revision,
        final=False,
        currency="DKK",
        list_total=Decimal(listed),
        discount_total=Decimal(listed),
        charged_total=Decimal("0.00"),
        prices={},
        rated_at=T0,
        rated_by="test",
    )


def set_state(session, pilot_id: str, state: str) -> None:
    tenant = session.exec(select(Tenant).where(Tenant.pilot_id == pilot_id)).one()
    tenant.state = state


def set_end(session, pilot_id: str, end: date) -> None:
    session.get(Pilot, pilot_id).planned_end = end


def recompute(session) -> None:
    row = session.exec(
        select(UsageRecord).where(UsageRecord.pilot_id == "P-ACT", UsageRecord.window_start == T0)
    ).one()
    row.quantity = Decimal("2.5")


def failed_step(session) -> None:
    session.add(
        ProvisionStep(
            pilot_id="P-SUS",
            run_id="r9",
            step="create router",
            action="create",
            resource="router",
            status="failed",
            error="HTTP 503",
        )
    )


CHANGES: dict[str, Callable] = {
    "nothing": lambda s: None,
    "a tenant's state": lambda s: set_state(s, "P-ACT", "suspended"),
    "a pilot's planned end": lambda s: set_end(s, "P-SUS", date(2031, 1, 1)),
    "a new tenant": lambda s: add_pilots(s, {"P-NEW": ("active", "large", date(2030, 2, 1))}),
    "usage in the latest window": lambda s: s.add(record("P-GPU", "gpu_hours", 1, "0.5")),
    "a recomputed older window": recompute,
    "a new window": lambda s: s.add(record("P-ACT", "vcpu_hours", 2, "3")),
    "a new invoice revision": lambda s: s.add(invoice("P-ACT", 2, "12.50")),
    "a failed provisioning step": failed_step,
    "a torn-down tenant": lambda s: set_state(s, "P-GPU", "torn_down"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_cached_body_equals_a_fresh_rendering_after(change, engine):
    policy = load_tenant_policy()
    with session_scope(engine) as session:
        add_pilots(session, TENANTS)
        session.add_all(
            [
                record("P-ACT", "vcpu_hours", 0, "1.25"),
                record("P-ACT", "vcpu_hours", 1, "2"),
                record("P-SUS", "ram_gb_hours", 1, "8"),
                invoice("P-ACT", 1, "10.00"),
            ]
        )
    cache = ScrapeCache(engine, policy)
    first = cache.body()
    assert cache.last_reads == 5
    with session_scope(engine) as session:
        CHANGES[change](session)
    second = cache.body()
    fresh = render(metrics.registry_for(engine, policy).collect())
    assert DURATION.sub(b"", second) == DURATION.sub(b"", fresh)
    if change == "nothing":
        # PostgreSQL may re-read blocks whose rows were written by a transaction
        # that could still have been running at the first scrape (the shared test
        # server runs other transactions): a conservative re-read, never stale.
        if engine.dialect.name == "sqlite":
            assert cache.last_reads == 0
        assert DURATION.sub(b"", second) == DURATION.sub(b"", first)
    else:
        assert cache.last_reads >= 1
        assert DURATION.sub(b"", second) != DURATION.sub(b"", first)
