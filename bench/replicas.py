"""Benchmark: one hour of metering and reconcile for 1,000 tenants, 1 replica beside 2.

Same run, same data:

1. devcloud's per-call latencies are measured first (median of a few calls):
   one usage reading (Nova's all-projects usage and Cinder's volume list, as
   the meter makes it), one listing call (projects, networks; observe_many
   makes one per resource kind) and the slowest of the three reads observe_many
   still makes per tenant (a Nova and a Cinder quota set, a user's application
   credentials: those APIs list them only per project or user);
2. ``--tenants`` tenants (1,000) are provisioned through the service into
   ``provisioner.testing.InMemoryCloud`` (no latency while provisioning);
3. the cloud then answers with devcloud's latencies (each usage call sleeps
   the measured usage latency; each bulk observation one listing latency per
   resource kind, then one per-tenant read latency for every
   ``ENDPOINT_CONCURRENCY`` tenants, as the OpenStack backend sends each API's
   per-tenant reads that many at a time and the three APIs side by side), and
   one hour is run — the ``meter`` job for the last complete window, then the
   ``reconcile`` job — first with one replica (the job alone), then with two
   (a second process forked with the same cloud works items through
   ``shared_work.work_one``, as ``serve``'s claim worker does).  The metering
   state is reset between the two.

The model is a cloud that answers every call at the latency of one call made
alone, however many are in flight: a control plane with API workers to spare.
devcloud on two cores is not one (each request costs its API 11–27 ms of CPU,
so its own figures are bound by its CPU, see ``bench/provision.py``).

PostgreSQL comes from ``tests/support/pgserver.py`` (a scratch database,
dropped at the end).  The machine's load average is printed beside every
figure: on a shared 2-core machine the numbers move with whatever else runs.

    python bench/replicas.py [--tenants 1000] [--per-item 100] [--no-devcloud]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
CLOUDS = REPO / ".devcloud" / "clouds.yaml"

from arguments import count, seconds  # noqa: E402

from ngc_pilot import claims, intake, migrate, provisioning, selection, shared_work  # noqa: E402
from ngc_pilot.db import make_engine, session_scope  # noqa: E402
from ngc_pilot.settings import build_settings  # noqa: E402
from ngc_pilot.synthetic import nominations  # noqa: E402
from policies.selection_policy import default_policy_path, parse_policy  # noqa: E402
from policies.tenancy import default_tenant_policy_path, parse_tenant_policy  # noqa: E402
from provisioner.openstack.connection import ENDPOINT_CONCURRENCY  # noqa: E402
from provisioner.testing import BULK_KINDS, InMemoryCloud  # noqa: E402
from provisioner.usage import METRICS  # noqa: E402


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _median(call: Callable[[], Any], n: int = 5) -> float:
    call()  # connection and token made
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_devcloud(clouds: Path) -> tuple[float, float, float]:
    """(usage call, listing call, per-tenant read) latencies in seconds, measured on devcloud now.

    The per-tenant read is the slowest of the three ``observe_many`` makes per
    tenant, read here for the admin's own project and user."""
    import openstack
    from openstack.config import loader

    from provisioner.openstack import OpenStackBackend

    backend = OpenStackBackend("devcloud", clouds)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    usage = _median(lambda: backend.usage(["ngc-bench-none"], end - timedelta(hours=1), end))
    config = loader.OpenStackConfig(config_files=[str(clouds)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud="devcloud"))
    listing = statistics.mean(
        [
            _median(lambda: list(conn.identity.projects())),
            _median(lambda: list(conn.network.networks())),
        ]
    )
    project, user = conn.current_project_id, conn.current_user_id
    read = max(
        _median(lambda: conn.compute.get_quota_set(project)),
        _median(lambda: conn.block_storage.get_quota_set(project)),
        _median(lambda: list(conn.identity.application_credentials(user=user))),
    )
    return usage, listing, read


class LatencyCloud(InMemoryCloud):
    """The in-memory cloud answering at devcloud's pace (set ``usage_s``/``list_s`` after setup)."""

    usage_s = 0.0
    list_s = 0.0
    read_s = 0.0

    def usage(self, project_ids: Sequence[str], start: datetime, end: datetime) -> list[Any]:
        time.sleep(self.usage_s)
        return super().usage(project_ids, start, end)

    def observe_many(self, desired_list: Sequence[Any]) -> list[Any]:
        rounds = math.ceil(len(desired_list) / ENDPOINT_CONCURRENCY)
        time.sleep(self.list_s * len(BULK_KINDS) + self.read_s * rounds)
        return super().observe_many(desired_list)


def seed(engine: Any, count: int) -> list[str]:
    """``count`` selected pilots (synthetic nominations), committed by the selection."""
    start = date.today() - timedelta(days=7)
    text_ = (
        default_policy_path()
        .read_text()
        .replace("start: 2021-04-15", f"start: {start}")
        .replace("end: 2021-08-31", f"end: {start + timedelta(days=120)}")
        .replace("vcpus: 2048", "vcpus: 10000000")
        .replace("ram_gb: 16384", "ram_gb: 100000000")
        .replace("storage_tb: 1000", "storage_tb: 1000000")
    )
    policy = parse_policy(
        text_.replace("k_min: 5", "k_min: 1")
        .replace("k_max: 10", f"k_max: {count}")
        .replace("per_institution_cap: 2", "per_institution_cap: 1000")
    )
    noms = []
    for i, n in enumerate(nominations(count, policy, seed=7)):
        raw = n.model_dump(mode="json")
        raw["id"] = f"R-{i:04d}"
        raw["principal_investigator"]["email"] = f"r-{i}@example.org"
        raw["eligibility"]["data_processing_agreement"] = "signed"
        raw["resources"] = {"vcpus": 16, "ram_gb": 64, "gpus": 0, "storage_tb": 1}
        noms.append(
            intake.SourcedNomination(
                type(n).model_validate(raw, context={"vocabularies": policy.vocabularies}), "bench"
            )
        )
    with session_scope(engine) as session:
        intake.store(session, noms, actor="bench", files=["generated"])
        ids = [n.nomination.id for n in noms]
        options = selection.SelectOptions(
            k_min=len(ids), k_max=len(ids), lock_in=tuple(ids), explain=False
        )
        proposal = selection.propose(session, policy, options)
        selection.commit(session, proposal, by="bench", reason="benchmark", actor="bench")
    return ids


def reset(engine: Any, created: datetime) -> None:
    """Nothing metered yet; every tenant created just inside the last complete hour."""
    with engine.begin() as conn:
        for table in ("usage_record", "meter_window", "work_claim", "work_cycle"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE tenant SET created_at = :c"), {"c": created})


def helper(url: str, cloud: LatencyCloud, tmp: Path, stop: Any, per_item: int) -> None:
    """The second replica: claim and work items until told to stop (forked: same cloud)."""
    engine = make_engine(url)
    prov = _prov(engine, cloud, tmp)
    replica = claims.Replica(f"helper:{os.getpid()}", tenants_per_item=per_item)
    while not stop.is_set():
        if not shared_work.work_one(engine, lambda: prov, replica):
            stop.wait(0.05)


def _prov(engine: Any, cloud: InMemoryCloud, tmp: Path) -> provisioning.Provisioner:
    # The shipped pool (a /16) holds 256 tenants' /24s; 1,000 need a wider one.
    text_ = default_tenant_policy_path().read_text().replace("10.240.0.0/16", "10.0.0.0/8")
    return provisioning.Provisioner(
        engine, parse_tenant_policy(text_), lambda: cloud, "bench", tmp / "environments", "bench"
    )


def one_hour(prov: Any, settings: Any, per_item: int) -> tuple[float, float, dict, dict, str]:
    """The meter job then the reconcile job, as the leader runs them at the hour."""
    replica = claims.Replica(f"leader:{os.getpid()}", poll_seconds=0.05, tenants_per_item=per_item)
    started = time.perf_counter()
    metered = shared_work.meter_job(prov, settings, replica)
    t_meter = time.perf_counter() - started
    started = time.perf_counter()
    reconciled = shared_work.reconcile_job(prov, replica)
    t_reconcile = time.perf_counter() - started
    return t_meter, t_reconcile, metered, reconciled, load()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=count(), default=1000)
    parser.add_argument(
        "--per-item",
        type=count(),
        default=100,
        help="tenants per work item",
    )
    parser.add_argument(
        "--no-devcloud",
        action="store_true",
        help="use --usage-s/--list-s/--read-s instead of measuring devcloud",
    )
    parser.add_argument(
        "--clouds", type=Path, default=CLOUDS, help="devcloud's clouds.yaml (read-only calls)"
    )
    parser.add_argument("--usage-s", type=seconds(), default=0.05)
    parser.add_argument("--list-s", type=seconds(), default=0.03)
    parser.add_argument("--read-s", type=seconds(), default=0.03, help="one per-tenant read")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress in a log

    from support.pgserver import create_database, drop_database, server_url

    admin, private = server_url()
    name = f"ngc_bench_replicas_{uuid.uuid4().hex[:8]}"
    url = create_database(admin, name)
    scratch = tempfile.TemporaryDirectory(prefix="ngc-bench-replicas-")
    tmp = Path(scratch.name)
    try:
        usage_s, list_s, read_s = (
            (args.usage_s, args.list_s, args.read_s)
            if args.no_devcloud
            else measure_devcloud(args.clouds)
        )
        source = "given" if args.no_devcloud else f"measured on devcloud (load {load()})"
        engine = make_engine(url)
        migrate.upgrade(engine)
        cloud = LatencyCloud(cores=1e9, ram_mb=1e12)
        prov = _prov(engine, cloud, tmp)
        ids = seed(engine, args.tenants)
        started = time.perf_counter()
        outcomes = provisioning.provision(prov, ids, parallel=8, allow_overcommit=True)
        t_prov = time.perf_counter() - started
        active = sum(o.state == "active" for o in outcomes)
        cloud.usage_s, cloud.list_s, cloud.read_s = usage_s, list_s, read_s
        settings = build_settings(environ={})
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        created = hour - timedelta(minutes=59)  # one complete window to meter

        print(f"# one hour of metering + reconcile, {args.tenants} tenants (load = 1-min average)")
        print(
            f"per-call latency {source}: usage {usage_s * 1000:.0f} ms, "
            f"listing {list_s * 1000:.0f} ms ({len(BULK_KINDS)} listings per bulk observation), "
            f"per-tenant read {read_s * 1000:.0f} ms ({ENDPOINT_CONCURRENCY} tenants' at a time)"
        )
        print(
            f"provisioned {active}/{len(ids)} tenants in memory in {t_prov:.1f} s (load {load()})"
        )
        reset(engine, created)
        one = one_hour(prov, settings, args.per_item)
        reset(engine, created)
        engine.dispose()  # nothing pooled crosses the fork
        stop = multiprocessing.Event()
        second = multiprocessing.get_context("fork").Process(
            target=helper, args=(url, cloud, tmp, stop, args.per_item)
        )
        second.start()
        try:
            two = one_hour(prov, settings, args.per_item)
        finally:
            stop.set()
            second.join(60)
            engine.dispose()
        print(
            "| replicas | meter (s) | reconcile (s) | hour total (s) | items per replica | load |"
        )
        print("|---:|---:|---:|---:|---|---:|")
        for n, (t_m, t_r, metered, reconciled, at) in ((1, one), (2, two)):
            split = sorted(
                (metered["items_by_replica"].get(k, 0) + reconciled["items_by_replica"].get(k, 0))
                for k in set(metered["items_by_replica"]) | set(reconciled["items_by_replica"])
            )
            print(f"| {n} | {t_m:.2f} | {t_r:.2f} | {t_m + t_r:.2f} | {split} | {at} |")
        same = one[2]["records_new"] == two[2]["records_new"] == active * len(METRICS)
        print(
            f"metered records: 1 replica {one[2]['records_new']}, 2 replicas "
            f"{two[2]['records_new']} ({'same' if same else 'DIFFERENT'}); reconcile checked "
            f"{one[3]['checked']} / {two[3]['checked']}, failed {one[3]['failed']} / "
            f"{two[3]['failed']}; speed-up {(one[0] + one[1]) / (two[0] + two[1]):.2f}x"
        )
    finally:
        scratch.cleanup()
        drop_database(admin, name)
        if private is not None:
            private.stop()


if __name__ == "__main__":
    main()
