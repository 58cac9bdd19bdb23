"""A replica killed with SIGKILL mid-cycle: the other finishes, nothing lost or duplicated.

A real process (``support/lease_worker.py``) runs a metering cycle on the real
PostgreSQL and is killed while it holds its second item; the surviving
replica (in this process, on its own engine) runs the same fire time, takes
the dead replica's item over once its lease has run out, and finishes the
cycle.  The usage rows are compared with the single-process cycle
(``metering.meter``) on a twin database.  No cloud is needed: the usage
reader is the double of ``tests/support/replicas.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from sqlmodel import col, select
from support.paths import REPO
from support.replicas import HOURLY, Reader, covered, provisioner, seed_tenants, usage_rows

from ngc_pilot import claims, metering, shared_work
from ngc_pilot.claim_models import WorkClaim
from ngc_pilot.db import session_scope
from ngc_pilot.models import AuditEvent
from ngc_pilot.settings import build_settings

NOW = datetime(2021, 5, 10, 15, 30, tzinfo=UTC)
CREATED = datetime(2021, 5, 10, 10, 40, tzinfo=UTC)
KEY = "2021-05-10T15:00:00+00:00"
TENANTS = 7
WAIT = 90.0  # an upper bound for polling, never a measured duration


def test_a_replica_killed_mid_item_loses_and_duplicates_nothing(pg_pair, tmp_path):
    url, twin = pg_pair
    engine = seed_tenants(url, TENANTS, CREATED)
    reference = seed_tenants(twin, TENANTS, CREATED)
    marker = tmp_path / "claimed"
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}")
    victim = subprocess.Popen(
        [sys.executable, "-m", "support.lease_worker", url, KEY, NOW.isoformat(), str(marker), "2"],
        env=env, stdin=subprocess.DEVNULL, cwd=REPO / "tests",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT
        while not marker.exists():
            assert victim.poll() is None, "the replica ended before it was killed"
            assert time.monotonic() < deadline, "the replica never claimed its second item"
            time.sleep(0.1)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
    try:
        with session_scope(engine) as session:
            held = session.exec(select(WorkClaim).where(col(WorkClaim.done_at).is_(None))).all()
            assert [c.owner for c in held if c.owner] == ["killed:1"]  # died holding one item
        settings = build_settings(overrides={"metering": HOURLY.model_dump()}, environ={})
        survivor = claims.Replica(
            "survivor:2", poll_seconds=0.1, tenants_per_item=3, cycle_key=KEY, now=NOW
        )
        report = shared_work.meter_job(provisioner(engine, Reader(), tmp_path), settings, survivor)

        metering.meter(provisioner(reference, Reader(), tmp_path), HOURLY, now=NOW)
        assert usage_rows(engine) == usage_rows(reference)
        assert covered(engine) == covered(reference)
        with session_scope(engine) as session:
            items = session.exec(select(WorkClaim).order_by(col(WorkClaim.item))).all()
            events = session.exec(
                select(AuditEvent).where(AuditEvent.action == "usage.metered")
            ).all()
        assert all(i.done_at is not None for i in items)
        assert items[0].done_by == "killed:1"  # done before the kill, kept
        assert items[1].done_by == "survivor:2" and items[1].attempts == 2  # taken over
        pairs = Counter((i.result["window_start"], p) for i in items for p in i.result["pilots"])
        assert set(pairs.values()) == {1} and len(pairs) == 5 * TENANTS
        assert report["items_by_replica"] == {"killed:1": 1, "survivor:2": len(items) - 1}
        assert len(events) == 1
    finally:
        engine.dispose()
        reference.dispose()
