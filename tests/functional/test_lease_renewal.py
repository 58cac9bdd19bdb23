"""Claims whose lease is renewed while their item runs (``claims.renew``, ``claims.Heartbeat``).

On the real PostgreSQL, with two replicas on separate engines (separate
connections and transactions) and, for SIGKILL, a real process
(``support/lease_worker.py``).  Leases here are 1 to 3 s so that "three
leases long" is quick; nothing asserts how long anything took — a take-over
is waited for (bounded by ``WAIT``) and then asserted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import col, select
from support.paths import REPO
from support.replicas import HOURLY, Reader, covered, provisioner, seed_tenants, usage_rows
from test_lifecycle_service import world  # noqa: F401 - the fixture

from ngc_pilot import claims, lifecycle, meter_shards, metering, reconcile_shards, shared_work
from ngc_pilot.claim_models import WorkClaim
from ngc_pilot.db import make_engine, session_scope, utcnow
from ngc_pilot.models import AuditEvent
from ngc_pilot.settings import build_settings
from provisioner.usage import METRICS

NOW = datetime(2021, 5, 10, 15, 30, tzinfo=UTC)
CREATED = datetime(2021, 5, 10, 10, 40, tzinfo=UTC)  # five windows, 10:00 to 15:00
KEY = "2021-05-10T15:00:00+00:00"
TENANTS = 3
LEASE = 1.0
WAIT = 90.0  # an upper bound for waiting, never a measured duration


def one_item_cycle(engine, prov) -> tuple[int, str]:
    """A meter cycle of one item (the first window, every tenant); its id and window start."""
    summary, payloads = meter_shards.plan(prov, HOURLY, 100, NOW)
    first = payloads[0]
    with session_scope(engine) as session:
        cycle = claims.open_cycle(
            session, "meter", KEY, "test:0", dict(summary, windows=[first["window"]]), [first]
        )
        assert cycle.id is not None
        return cycle.id, first["window"]["start"]


def audits(engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def the_item(engine) -> WorkClaim:
    with session_scope(engine) as session:
        return session.exec(select(WorkClaim)).one()


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("renew", [True, False], ids=["renewed", "baseline-fixed-lease"])
def test_an_item_three_leases_long_is_worked_once_while_its_holder_renews(pg_pair, tmp_path, renew):
    url, _ = pg_pair
    lease = 3.0 if renew else LEASE  # renewals every second: slack for a loaded machine
    engine = seed_tenants(url, TENANTS, CREATED)
    other = make_engine(url)
    inside, gate = threading.Event(), threading.Event()

    def slow(n: int) -> None:
        inside.set()
        gate.wait(WAIT)

    slow_reader, quick_reader = Reader(slow), Reader()
    holder = provisioner(engine, slow_reader, tmp_path)
    contender = provisioner(other, quick_reader, tmp_path)
    _, window = one_item_cycle(engine, holder)
    mine = claims.Replica("holder:1", lease_seconds=lease, renew_leases=renew)
    theirs = claims.Replica("contender:2", lease_seconds=lease)
    worker = threading.Thread(target=shared_work.work_one, args=(engine, lambda: holder, mine))
    worker.start()
    try:
        assert inside.wait(WAIT)
        if renew:
            # Three leases and more: the item stays the holder's; nobody can claim it.
            until = time.monotonic() + 3 * lease + 0.5
            while time.monotonic() < until:
                assert claims.claim_next(other, "contender:2", lease) is None
                time.sleep(0.1)
        else:
            wait_for(lambda: shared_work.work_one(other, lambda: contender, theirs), "taken over")
    finally:
        gate.set()
        worker.join(WAIT)
    try:
        item = the_item(engine)
        rows = usage_rows(engine)
        assert len(rows) == TENANTS * len(METRICS)  # the window metered exactly once
        assert {r[2].isoformat() for r in rows} == {window}
        assert item.result is not None and item.result["records_new"] == len(rows)
        worked = len(slow_reader.calls) + len(quick_reader.calls)
        if renew:
            assert (item.done_by, item.attempts, worked) == ("holder:1", 1, 1)
            assert audits(engine, "work.claim_taken_over") == []
            assert audits(engine, "work.claim_lost") == []
        else:  # the baseline: the lease ran out under the holder; the item was worked twice
            assert (item.done_by, item.attempts, worked) == ("contender:2", 2, 2)
            [taken] = audits(engine, "work.claim_taken_over")
            assert taken.actor == "contender:2" and taken.details["from"] == "holder:1"
            [lost] = audits(engine, "work.claim_lost")
            assert lost.actor == "holder:1" and lost.details["detected_by"] == "completion"
    finally:
        engine.dispose()
        other.dispose()


def test_a_renewal_after_a_take_over_finds_the_claim_lost_and_its_writes_roll_back(
    pg_pair, tmp_path
):
    url, _ = pg_pair
    engine = seed_tenants(url, TENANTS, CREATED)
    other = make_engine(url)
    slow = provisioner(engine, Reader(), tmp_path)
    quick = provisioner(other, Reader(), tmp_path)
    one_item_cycle(engine, slow)
    try:
        stale = claims.claim_next(engine, "slow:1", LEASE)
        assert stale is not None and claims.renew(engine, stale, LEASE)  # held: renewed
        taken: list[claims.Claim] = []

        def take_over() -> bool:
            found = claims.claim_next(other, "quick:2", 60)  # once the slow lease ran out
            taken.extend([found] if found else [])
            return bool(taken)

        wait_for(take_over, "taken over")
        fresh = taken[0]
        assert fresh.token == stale.token + 1

        assert claims.renew(engine, stale, LEASE) is False
        with claims.Heartbeat(engine, stale, LEASE) as beat:
            wait_for(lambda: not beat.held(), "found the claim lost")
        assert beat.lost_at is not None and beat.renewals == 0
        with pytest.raises(claims.ClaimLost):
            meter_shards.handle(slow, stale)
        assert usage_rows(engine) == []  # the slow holder's records rolled back

        assert claims.renew(other, fresh, 60)
        meter_shards.handle(quick, fresh)
        assert claims.renew(other, fresh, 60)  # done by this claim: still its own, not lost
        assert len(usage_rows(engine)) == TENANTS * len(METRICS)
        assert the_item(engine).done_by == "quick:2"
        [event] = audits(engine, "work.claim_taken_over")
        assert event.details["from"] == "slow:1" and event.details["fence"] == fresh.token
    finally:
        engine.dispose()
        other.dispose()


def test_a_holder_whose_renewal_finds_the_claim_lost_audits_it_and_writes_nothing(
    pg_pair, tmp_path
):
    url, _ = pg_pair
    engine = seed_tenants(url, TENANTS, CREATED)

    def taken_over_meanwhile(n: int) -> None:
        # As if the holder stalled past its lease and another replica claimed the item:
        with engine.begin() as conn:
            conn.execute(text("UPDATE work_claim SET token = token + 1, owner = 'thief:9'"))
        # ...then wait until the holder's heartbeat has found out (its thread ends there).
        wait_for(lambda: not any(t.name.startswith("ngc-lease-") for t in threading.enumerate()), "found the loss")  # fmt: skip

    prov = provisioner(engine, Reader(taken_over_meanwhile), tmp_path)
    one_item_cycle(engine, prov)
    try:
        replica = claims.Replica("holder:1", lease_seconds=LEASE)
        assert shared_work.work_one(engine, lambda: prov, replica)
        assert usage_rows(engine) == []
        item = the_item(engine)
        assert item.done_at is None and item.owner == "thief:9"
        [lost] = audits(engine, "work.claim_lost")
        assert lost.actor == "holder:1" and lost.details["detected_by"] == "renewal"
    finally:
        engine.dispose()


def test_a_heartbeat_renews_until_its_block_ends(pg_pair, tmp_path):
    url, _ = pg_pair
    engine = seed_tenants(url, TENANTS, CREATED)
    one_item_cycle(engine, provisioner(engine, Reader(), tmp_path))
    try:
        claim = claims.claim_next(engine, "holder:1", LEASE)
        assert claim is not None
        first = the_item(engine).lease_until
        with claims.Heartbeat(engine, claim, LEASE) as beat:
            wait_for(lambda: beat.renewals >= 2, "renewed twice")
            assert beat.held()
        assert the_item(engine).lease_until > first
        stopped_at = beat.renewals
        time.sleep(LEASE)  # a stopped heartbeat renews no more
        assert beat.renewals == stopped_at
    finally:
        engine.dispose()


@pytest.mark.migrated  # the world fixture expects a database at the head revision
def test_reconcile_stops_between_tenants_once_its_claim_is_lost(world):  # noqa: F811
    prov, cloud, engine, _ = world
    for name in ("ngc-s-1", "ngc-s-2"):
        cloud.tenants[name].quotas["compute_quota"]["cores"] = 5
    answers = iter([True, False])
    report = lifecycle.reconcile(prov, repair=True, still_held=lambda: next(answers, False))
    assert report.stopped
    assert [(t.pilot_id, t.repaired) for t in report.tenants] == [("S-1", True)]
    assert cloud.tenants["ngc-s-1"].quotas["compute_quota"]["cores"] == 64
    assert cloud.tenants["ngc-s-2"].quotas["compute_quota"]["cores"] == 5  # not touched
    with session_scope(engine) as session:
        drifted = session.exec(
            select(AuditEvent.subject).where(col(AuditEvent.action).in_(["tenant.drift", "tenant.repaired"]))
        ).all()  # fmt: skip
    assert set(drifted) == {"S-1"}

    # As a replica's shard: a claim lost before the first tenant touches nothing.
    with session_scope(engine) as session:
        claims.open_cycle(session, "reconcile", "k", "t:0", {}, [{"pilots": ["S-2"]}])
    claim = claims.claim_next(engine, "r:1", 60)
    assert claim is not None
    calls = cloud.mutating_calls
    with pytest.raises(claims.ClaimLost):
        reconcile_shards.handle(prov, claim, lambda: False)
    assert cloud.mutating_calls == calls
    assert the_item(engine).done_at is None


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("claim_lease_seconds", 0, "greater than or equal to 1"),
        ("claim_lease_seconds", 3601, "less than or equal to 3600"),
        ("claim_poll_seconds", 0.05, "greater than or equal to 0.1"),
        ("claim_poll_seconds", 601, "less than or equal to 600"),
    ],
)
def test_claim_settings_out_of_bounds_name_field_value_and_allowed(field, value, allowed):
    with pytest.raises(ValidationError) as caught:
        build_settings(overrides={"service": {field: value}}, environ={})
    text = str(caught.value)
    assert f"service.{field}" in text and str(value) in text and allowed in text


def test_claim_settings_defaults_and_the_replica_they_make():
    service = build_settings(environ={}).service
    assert (service.claim_lease_seconds, service.claim_poll_seconds) == (60.0, 2.0)
    assert claims.Replica("x:1").renew_leases is True


def test_a_replica_killed_with_sigkill_is_taken_over_within_a_lease(pg_pair, tmp_path):
    url, twin = pg_pair
    lease = 2.0
    engine = seed_tenants(url, 7, CREATED)
    reference = seed_tenants(twin, 7, CREATED)
    marker = tmp_path / "claimed"
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}")
    victim = subprocess.Popen(
        [sys.executable, "-m", "support.lease_worker", url, KEY, NOW.isoformat(), str(marker), str(lease)],
        env=env, stdin=subprocess.DEVNULL, cwd=REPO / "tests",
    )  # fmt: skip
    try:
        wait_for(lambda: marker.exists() or victim.poll() is not None, "claimed its second item")
        assert victim.poll() is None, "the replica ended before it was killed"
        first = next(i.lease_until for i in held(engine))
        # The live replica renews its hanging item's lease past the first one...
        wait_for(lambda: next(i.lease_until for i in held(engine)) > first, "renewed")
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
    try:
        [dead] = held(engine)
        assert dead.owner == "killed:1"
        # ...and, dead, renews no more: its item is free within one lease of now.
        assert dead.lease_until is not None and dead.lease_until <= utcnow() + timedelta(
            seconds=lease
        )
        settings = build_settings(overrides={"metering": HOURLY.model_dump()}, environ={})
        survivor = claims.Replica(
            "survivor:2", lease_seconds=lease, poll_seconds=0.1, tenants_per_item=3,
            cycle_key=KEY, now=NOW,
        )  # fmt: skip
        report = shared_work.meter_job(provisioner(engine, Reader(), tmp_path), settings, survivor)

        metering.meter(provisioner(reference, Reader(), tmp_path), HOURLY, now=NOW)
        assert usage_rows(engine) == usage_rows(reference)  # nothing lost, nothing twice
        assert covered(engine) == covered(reference)
        with session_scope(engine) as session:
            items = session.exec(select(WorkClaim).order_by(col(WorkClaim.item))).all()
        assert items[0].done_by == "killed:1"
        assert items[1].done_by == "survivor:2" and items[1].attempts == 2
        pairs = Counter((i.result["window_start"], p) for i in items for p in i.result["pilots"])
        assert set(pairs.values()) == {1} and len(pairs) == 5 * 7
        assert report["items_by_replica"] == {"killed:1": 1, "survivor:2": len(items) - 1}
        [taken] = audits(engine, "work.claim_taken_over")
        assert taken.details["from"] == "killed:1" and taken.actor == "survivor:2"
        assert len(audits(engine, "usage.metered")) == 1
    finally:
        engine.dispose()
        reference.dispose()


def held(engine) -> list[WorkClaim]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(WorkClaim).where(
                    col(WorkClaim.done_at).is_(None), col(WorkClaim.owner).is_not(None)
                )
            ).all()
        )
