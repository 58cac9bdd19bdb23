"""Benchmark: how soon a killed replica's item is taken over, and how often a slow item is worked twice.

Same run, same machine, renewal beside the fixed lease of old:

1. **SIGKILL to take-over.**  A real replica process
   (``tests/support/lease_worker.py``) meters a cycle on PostgreSQL and
   hangs in its second item; it is killed with SIGKILL a moment after it
   claimed it (the cycle's other open items are then marked done, so only
   its item is left), and a second replica (this process, its own engine) polls
   ``claims.claim_next`` every 50 ms until it gets the item: the figure is
   the wall time from the kill to the take-over.  Measured with the new
   default (lease 60 s, renewed every 20 s) and, as the baseline, with the
   old fixed lease of 300 s (``--quick``: 6 s beside 30 s, the same ratio
   in a tenth of the time).  Both are also *computed*:
   a fixed lease runs from the claim, so a replica killed ``t`` s into an
   item frees it after ``300 - t`` s (up to 300); a renewed one after
   ``lease - (time since the last renewal)``, i.e. 40 to 60 s whenever the
   kill comes.
2. **Items worked twice.**  Two replicas (threads, separate engines) share
   one metering cycle in which one item takes three leases (lease 1 s); the
   figure is how many items the cloud was asked for more than once, with
   renewal and without.

    python bench/lease_renewal.py [--lease 60] [--fixed 300] [--quick]

The PostgreSQL databases are scratch ones, dropped at the end.  The load
average and this process's CPU time are printed beside each figure.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from arguments import seconds  # noqa: E402
from support.pgserver import create_database, drop_database, server_url  # noqa: E402
from support.replicas import HOURLY, Reader, provisioner, seed_tenants  # noqa: E402

from ngc_pilot import claims, shared_work  # noqa: E402
from ngc_pilot.db import make_engine  # noqa: E402
from ngc_pilot.settings import build_settings  # noqa: E402

NOW = datetime(2021, 5, 10, 15, 30, tzinfo=UTC)
CREATED = datetime(2021, 5, 10, 10, 40, tzinfo=UTC)  # five windows
KEY = "2021-05-10T15:00:00+00:00"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def take_over_seconds(admin: str, lease: float, fixed: bool, tmp: Path) -> float:
    """Seconds from SIGKILL of a replica holding an item to another replica's claim of it."""
    name = f"ngc_bench_lease_{uuid.uuid4().hex[:10]}"
    url = create_database(admin, name)
    engine = seed_tenants(url, 7, CREATED)
    marker = tmp / f"claimed-{name}"
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}")
    argv = [sys.executable, "-m", "support.lease_worker", url, KEY, NOW.isoformat(), str(marker)]
    victim = subprocess.Popen(
        [*argv, str(lease), "fixed" if fixed else "renewed"],
        env=env, stdin=subprocess.DEVNULL, cwd=REPO / "tests",
    )  # fmt: skip
    try:
        while not marker.exists():
            if victim.poll() is not None:
                raise SystemExit("the replica ended before it was killed")
            time.sleep(0.05)
        time.sleep(0.5)  # a moment into the item
        with engine.begin() as conn:  # only the dead replica's item is left to take over
            conn.execute(
                text(
                    "UPDATE work_claim SET done_at = now() WHERE owner IS NULL AND done_at IS NULL"
                )
            )
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        victim.wait(30)
        while claims.claim_next(engine, "survivor:2", 60) is None:
            time.sleep(0.05)
        return time.monotonic() - killed
    finally:
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
        engine.dispose()
        drop_database(admin, name)


def worked_twice(admin: str, renew: bool, tmp: Path, lease: float = 1.0) -> tuple[int, int]:
    """(items, items the cloud was asked for more than once) when one item takes 3 leases."""
    name = f"ngc_bench_lease_{uuid.uuid4().hex[:10]}"
    url = create_database(admin, name)
    engine = seed_tenants(url, 7, CREATED)
    other = make_engine(url)
    slow_done = threading.Event()

    def slow_first(n: int) -> None:
        if n == 1:
            time.sleep(3 * lease)
            slow_done.set()

    reader_a, reader_b = Reader(slow_first), Reader()
    prov_a = provisioner(engine, reader_a, tmp)
    prov_b = provisioner(other, reader_b, tmp)
    stop = threading.Event()
    helper = claims.Replica(
        "b:2", stop=stop, lease_seconds=lease, renew_leases=renew, tenants_per_item=3
    )

    def helper_loop() -> None:
        while not stop.is_set():
            if not shared_work.work_one(other, lambda: prov_b, helper):
                stop.wait(0.05)

    thread = threading.Thread(target=helper_loop)
    thread.start()
    try:
        settings = build_settings(overrides={"metering": HOURLY.model_dump()}, environ={})
        leader = claims.Replica(
            "a:1", lease_seconds=lease, renew_leases=renew, poll_seconds=0.05,
            tenants_per_item=3, cycle_key=KEY, now=NOW,
        )  # fmt: skip
        report = shared_work.meter_job(prov_a, settings, leader)
        slow_done.wait(30)
    finally:
        stop.set()
        thread.join(60)
        engine.dispose()
        other.dispose()
        drop_database(admin, name)
    asked = Counter(reader_a.calls + reader_b.calls)
    return report["items"], sum(1 for n in asked.values() if n > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lease", type=seconds(1, 3600), default=60.0, help="renewed lease, seconds (1 to 3600)"
    )
    parser.add_argument(
        "--fixed",
        type=seconds(1, 3600),
        default=None,
        help="fixed-lease baseline, seconds (300; --quick: 30)",
    )
    parser.add_argument("--quick", action="store_true", help="renewed lease of 6 s")
    args = parser.parse_args()
    lease = 6.0 if args.quick else args.lease
    baseline = args.fixed or (30.0 if args.quick else 300.0)
    admin, private = server_url()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"load average (1/5/15 min) at start: {load()}")
            print("1. SIGKILL -> take-over (wall seconds, measured)")
            for label, lease_s, fixed in (
                (f"renewed lease {lease:g} s (every {lease / 3:g} s)", lease, False),
                (f"fixed lease {baseline:g} s (baseline, no renewal)", baseline, True),
            ):
                cpu = time.process_time()
                took = take_over_seconds(admin, lease_s, fixed, Path(tmp))
                print(
                    f"   {label:45s} {took:7.1f} s   cpu {time.process_time() - cpu:5.2f} s"
                    f"   load {load()}"
                )
            print(
                "   computed, for a kill t s after the claim (renewal keeps lease_until within one lease):"
            )
            print(
                f"   renewed {lease:g} s: {2 * lease / 3:g}..{lease:g} s whatever t"
                f"   fixed {baseline:g} s{' (the old default)' if baseline == 300 else ''}: "
                f"{baseline:g} - t s, up to {baseline:g} s"
            )
            print("2. a slow item (3 leases of 1 s) in a 15-item cycle, two replicas")
            for renew in (True, False):
                wall, cpu = time.perf_counter(), time.process_time()
                items, twice = worked_twice(admin, renew, Path(tmp))
                print(
                    f"   {'renewal' if renew else 'no renewal (baseline)':22s} items {items:3d}"
                    f"   worked twice {twice}   wall {time.perf_counter() - wall:5.1f} s"
                    f"   cpu {time.process_time() - cpu:5.2f} s   load {load()}"
                )
    finally:
        if private is not None:
            private.stop()


if __name__ == "__main__":
    main()
