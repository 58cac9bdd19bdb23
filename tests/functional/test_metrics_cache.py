"""``/metrics`` from the scrape cache is what the collector renders, after every kind of change.

:class:`ngc_pilot.metrics_cache.ScrapeCache` reuses the per-tenant blocks of a
scrape while their rows are unchanged; these tests change each block's input
(tenant state, planned end, a new tenant, usage, a recomputed window, a new
window, an invoice revision, a failed step) between two scrapes, on SQLite and
PostgreSQL, and require the body to equal, byte for byte, the collector's
families read afresh and rendered (the query-duration and request-age samples
aside: both are as of the read).  Every table with a change-stamp trigger
(migration 0015) is changed, several in raw SQL, as the triggers see every
write and not only the ORM's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select
from support.metrics_seed import T0, add_pilots

from ngc_pilot import metrics
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.evaluation_models import EvaluationAnswer, EvaluationResponse, SupportItem
from ngc_pilot.exposition import render
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.metrics_cache import ScrapeCache
from ngc_pilot.models import (
    CapacitySnapshot,
    Invoice,
    JobRun,
    OutboxMessage,
    Pilot,
    ProvisionStep,
    Tenant,
    UsageRecord,
)
from ngc_pilot.request_models import ChangeRequest
from policies.tenancy import load_tenant_policy

pytestmark = pytest.mark.migrated

# Samples that differ between two reads by design: this scrape's query time, and
# the oldest pending request's age (as of the read, computed at every scrape).
DURATION = re.compile(
    rb"^(ngc_pilot_metrics_query_duration_seconds|"
    rb"ngc_pilot_change_request_oldest_pending_age_seconds) .*$",
    re.M,
)
AGE = re.compile(rb"^ngc_pilot_change_request_oldest_pending_age_seconds (\S+)$", re.M)

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


def raw(sql: str) -> Callable:
    """A change written in SQL, around the ORM (as an operator's fix would be)."""
    return lambda s: s.exec(text(sql))


def kube_tenant(session) -> None:
    add_pilots(session, {"P-K8S": ("active", "small", date(2030, 3, 1))})
    session.flush()
    session.delete(session.exec(select(Tenant).where(Tenant.pilot_id == "P-K8S")).one())
    session.add(
        KubeTenant(
            pilot_id="P-K8S", server="https://127.0.0.1:6443", namespace="p-k8s", size="small"
        )
    )


def evaluation_answer(session) -> None:
    response = EvaluationResponse(
        pilot_id="P-ACT",
        respondent="pi@example.org",
        questionnaire_version=1,
        questionnaire_digest="0" * 64,
        source="tests",
    )
    session.add(response)
    session.flush()
    session.add(EvaluationAnswer(response_id=response.id, question_id="q1", area="data", score=4))


def capacity(session) -> None:
    session.add(
        CapacitySnapshot(taken_at=T0, resource_class="VCPU", total=64, allocation_ratio=4.0)
    )


def job_run(session) -> None:
    session.add(
        JobRun(
            job_id="meter",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=2),
            status="succeeded",
            duration_seconds=2.0,
            worker="tests:1",
        )
    )


def outbox(session) -> None:
    session.add(
        OutboxMessage(key="k1", kind="notice", recipient="pi@example.org", subject="s", body="b")
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
    # Every table with a change-stamp trigger (migration 0015), several in raw SQL.
    "a tenant's state, in SQL": raw(
        "UPDATE tenant SET state = 'suspended' WHERE pilot_id = 'P-ACT'"
    ),
    "a tenant deleted, in SQL": raw("DELETE FROM tenant WHERE pilot_id = 'P-GPU'"),
    "a pilot's planned end, in SQL": raw(
        "UPDATE pilot SET planned_end = '2031-01-01' WHERE id = 'P-SUS'"
    ),
    "a namespace tenant": kube_tenant,
    "a usage record deleted, in SQL": raw(
        "DELETE FROM usage_record WHERE id = (SELECT max(id) FROM usage_record)"
    ),
    "a usage record updated, in SQL": raw("UPDATE usage_record SET quantity = 7"),
    # Below the highest id: the one insert the usage_record trigger must not skip.
    "a usage record inserted below the highest id, in SQL": raw(
        "INSERT INTO usage_record (id, pilot_id, metric, window_start, window_end, quantity, "
        "source, collected_at) SELECT (SELECT min(id) FROM usage_record) - 1, 'P-SUS', "
        "'gpu_hours', window_start, "
        "window_end, 4, 'test', collected_at FROM usage_record "
        "WHERE window_start = (SELECT max(window_start) FROM usage_record) LIMIT 1"
    ),
    "an invoice deleted, in SQL": raw("DELETE FROM invoice"),
    "an invoice changed, in SQL": raw("UPDATE invoice SET charged_total = 3.25"),
    "a failed step, in SQL": raw(
        "INSERT INTO provision_step (pilot_id, run_id, step, action, resource, status, error, "
        "at) SELECT 'P-ACT', 'r8', 'create network', 'create', 'network', 'failed', "
        "'HTTP 500', taken_at FROM capacity_snapshot"
    ),
    "a capacity snapshot": capacity,
    "a job run": job_run,
    "a job run's result, in SQL": raw("UPDATE job_run SET status = 'failed'"),
    "an evaluation answer": evaluation_answer,
    "a support item": lambda s: s.add(
        SupportItem(pilot_id="P-ACT", area="data", summary="s", opened_at=T0, opened_by="pi")
    ),
    "a support item closed, in SQL": raw("UPDATE support_item SET closed_at = opened_at"),
    "a change request": lambda s: s.add(
        ChangeRequest(pilot_id="P-ACT", kind="extend", justification="j", filed_by="pi")
    ),
    "a change request decided, in SQL": raw("UPDATE change_request SET status = 'approved'"),
    "an outbox message": outbox,
    "an outbox message sent, in SQL": raw("UPDATE outbox_message SET status = 'sent'"),
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
                SupportItem(
                    pilot_id="P-SUS", area="data", summary="s", opened_at=T0, opened_by="pi"
                ),
                ChangeRequest(pilot_id="P-SUS", kind="resize", justification="j", filed_by="pi"),
                OutboxMessage(
                    key="k0", kind="notice", recipient="pi@example.org", subject="s", body="b"
                ),
            ]
        )
        job_run(session)
        capacity(session)
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
        # The age is not cached with the request rows: it grows between scrapes.
        assert float(AGE.search(second)[1]) > float(AGE.search(first)[1])
    else:
        assert cache.last_reads + cache.last_global_reads >= 1
        assert DURATION.sub(b"", second) != DURATION.sub(b"", first)
