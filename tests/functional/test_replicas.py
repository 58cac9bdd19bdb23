"""Replicas share the per-tenant work: each (tenant, window) metered exactly once.

Two replicas here are two workers on separate engines (separate connections
and transactions) in one process, on the real PostgreSQL; one replica runs on
SQLite and PostgreSQL.  Each result is compared with ``metering.meter`` (the
single-process cycle) run on a twin database with the same tenants and the
same cloud answers.  A replica killed mid-item is tested with a real process
and SIGKILL in ``tests/integration/test_replicas_kill.py``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select
from support.replicas import HOURLY, Reader, covered, provisioner, seed_tenants, usage_rows

from ngc_pilot import claims, metering, shared_work
from ngc_pilot.claim_models import WorkClaim
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import AuditEvent
from ngc_pilot.settings import build_settings

pytestmark = pytest.mark.migrated

NOW = datetime(2021, 5, 10, 15, 30, tzinfo=UTC)
CREATED = datetime(2021, 5, 10, 10, 40, tzinfo=UTC)  # five windows, 10:00 to 15:00
TENANTS = 7
SETTINGS = build_settings(overrides={"metering": HOURLY.model_dump()}, environ={})


@pytest.fixture
def twin(database, tmp_path, request) -> Iterator[str]:
    """A second database of the same kind at the head revision, for the single-process reference."""
    from support.databases import copy_sqlite, new_name

    if database.backend == "sqlite":
        yield copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "twin.db")
        return
    databases = request.getfixturevalue("pg_databases")
    name = new_name("twin_")
    url = databases.create(name, migrated=True)
    try:
        yield url
    finally:
        databases.drop(name)


def audit_count(engine, action: str) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def pairs_by_item(engine) -> list[tuple[str, str, str]]:
    """(window, pilot, replica) for every tenant of every done item."""
    with session_scope(engine) as session:
        rows = session.exec(select(WorkClaim).order_by(col(WorkClaim.item))).all()
        return [(r.result["window_start"], p, r.done_by) for r in rows for p in r.result["pilots"]]


def test_one_replica_meters_exactly_what_the_single_process_cycle_meters(database, twin, tmp_path):
    engine = seed_tenants(database.url, TENANTS, CREATED)
    reference = seed_tenants(twin, TENANTS, CREATED)
    prov = provisioner(engine, Reader(), tmp_path)
    ref_prov = provisioner(reference, Reader(), tmp_path)
    try:
        for now in (NOW, NOW + timedelta(hours=1)):  # a first cycle, then one with recomputes
            replica = claims.Replica("solo:1", tenants_per_item=3, now=now)
            report = shared_work.meter_job(prov, SETTINGS, replica)
            expected = metering.meter(ref_prov, HOURLY, now=now)
            assert usage_rows(engine) == usage_rows(reference)
            assert covered(engine) == covered(reference)
            assert report["windows_metered"] == len(expected.windows)
            assert report["records_new"] == expected.records_new
            assert report["records_unchanged"] == expected.records_unchanged
            assert report["tenants"] == TENANTS
            assert report["items_by_replica"] == {"solo:1": report["items"]}
        assert audit_count(engine, "usage.metered") == 2
    finally:
        engine.dispose()
        reference.dispose()


def test_two_replicas_split_the_items_and_meter_each_tenant_window_once(database, twin, tmp_path):
    if database.backend != "postgresql":
        pytest.skip("replicas share one PostgreSQL; SQLite serves one replica")
    engine = seed_tenants(database.url, TENANTS, CREATED)
    other = make_engine(database.url)  # the second replica's own connections
    reference = seed_tenants(twin, TENANTS, CREATED)
    both_working = threading.Barrier(2, timeout=60)

    def first_call_waits_for_the_other(n: int) -> None:
        if n == 1:  # each replica holds its first item until the other holds one too
            both_working.wait()

    leader = provisioner(engine, Reader(first_call_waits_for_the_other), tmp_path)
    helper = provisioner(other, Reader(first_call_waits_for_the_other), tmp_path)
    done = threading.Event()
    helper_replica = claims.Replica("helper:2", stop=done, tenants_per_item=3)

    def helper_loop() -> None:
        while not done.is_set():
            if not shared_work.work_one(other, lambda: helper, helper_replica):
                done.wait(0.05)

    thread = threading.Thread(target=helper_loop)
    thread.start()
    try:
        replica = claims.Replica("leader:1", tenants_per_item=3, poll_seconds=0.05, now=NOW)
        report = shared_work.meter_job(leader, SETTINGS, replica)
    finally:
        done.set()
        thread.join(60)
    try:
        metering.meter(provisioner(reference, Reader(), tmp_path), HOURLY, now=NOW)
        assert usage_rows(engine) == usage_rows(reference)
        assert covered(engine) == covered(reference)
        pairs = pairs_by_item(engine)
        assert Counter((w, p) for w, p, _ in pairs) == Counter(
            {(w, p): 1 for w, p, _ in pairs}
        )  # each (window, tenant) in exactly one done item
        assert len(pairs) == 5 * TENANTS
        assert set(report["items_by_replica"]) == {"leader:1", "helper:2"}
        assert sum(report["items_by_replica"].values()) == report["items"] == 5 * 3
        assert audit_count(engine, "usage.metered") == 1
    finally:
        engine.dispose()
        other.dispose()
        reference.dispose()


def test_a_new_cycle_supersedes_an_unfinished_one_whose_items_cannot_complete(database, tmp_path):
    engine = seed_tenants(database.url, 2, CREATED)
    prov = provisioner(engine, Reader(), tmp_path)
    try:
        with session_scope(engine) as session:
            old = claims.open_cycle(session, "meter", "old", "gone:9", {"windows": []}, [{}])
        stale = claims.claim_next(engine, "gone:9", 0.0)
        assert stale is not None and stale.cycle_id == old.id
        shared_work.meter_job(prov, SETTINGS, claims.Replica("solo:1", now=NOW))
        with pytest.raises(claims.ClaimLost), session_scope(engine) as session:
            claims.complete(session, stale, {})
        assert claims.progress(engine, stale.cycle_id).finished
    finally:
        engine.dispose()
