"""Benchmarks of metering, billing and metrics (a script that prints numbers, not a test).

Sections — run all, or name some:

    python bench/metering.py [invoices] [cycle] [metrics] [--tenants 1000] ...

* ``invoices`` (here): shadow invoices for 1,000 tenants x one year (or
  ``--years 2``) of hourly usage on PostgreSQL.  Goal: all tenants, all 12
  months in <= 1.5 s, the same at two years of history.
* ``cycle``: a metering cycle (``bench_cycle()``, added by the metering part).
* ``metrics``: a ``/metrics`` scrape with 10,000 tenants (``--metrics-tenants``)
  after 0, 24 and 168 hours of usage, beside prometheus_client's server.

Each section prints its numbers next to a baseline measured in the same run.

The invoices section
--------------------
PostgreSQL comes from ``tests/support/pgserver.py`` (the server on
127.0.0.1:5432 if one answers, else a private one; ``NGC_PILOT_TEST_PG_URL``
overrides).  A scratch database is created, loaded and dropped again
(``--reuse-db NAME`` keeps it and skips the load next time).

Load: one usage record per (tenant, metric, hour) for 2021, exactly as the
meter writes them — vCPU-hours, RAM GB-hours, local-disk GB-hours and volume
GB-hours for every tenant, GPU-hours for every tenth — with COPY, the table's
indexes and constraints dropped during the load and rebuilt after it, then
``VACUUM ANALYZE``.  1,000 tenants x 8,760 hours is the issue's 8.76 M
tenant-hours; with the metrics that is 35,916,000 records (``--metrics
vcpu_hours`` loads exactly 8,760,000).

Timed, all in the same run on the same data:

1. ``rate_month`` for each of the 12 months, invoice tables empty: the
   service's real work (SQL aggregation, rating, writing 12,000 invoices with
   their lines and audit rows).  **This is the goal's number.**
2. The same again with nothing changed (nothing is written).
3. ``rate_months`` for all 12 months in one call (one aggregation query).
4. The SQL aggregation alone: 12 monthly queries, and one for the year.
5. Baseline: the same aggregation row by row in Python over a streamed
   (server-side) cursor; its sums are checked against the SQL's.
6. A prototype that ngc-pilot does NOT ship: the same sums from a daily
   rollup table built in the scratch database — what pre-aggregating usage
   by day would buy (price and discount boundaries fall on midnight, so days
   are fine enough).

The machine's load average is printed: on a shared machine the numbers move
with whatever else runs.
"""

from __future__ import annotations

import argparse
import bisect
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from arguments import bench_database, count, listing, one_of  # noqa: E402

ALL_METRICS = ("vcpu_hours", "ram_gb_hours", "disk_gb_hours", "volume_gb_hours", "gpu_hours")
SIZES = (8, 32, 64, 128)  # vCPUs of the four tenant sizes in the generated load
VOLUME_GB = (1000, 5000, 20000, 100000)


# ------------------------------------------------------------------ invoices


def _usage_of(i: int, metric: str) -> tuple[str, str] | None:
    """(busy hour, quiet hour) quantities of tenant ``i`` for ``metric``; None: not used."""
    vcpus = SIZES[i % 4]
    share = Decimal("0.987654")  # keeps the numbers off round values
    if metric == "vcpu_hours":
        busy = vcpus * share
    elif metric == "ram_gb_hours":
        busy = vcpus * 4 * share
    elif metric == "disk_gb_hours":
        return (f"{vcpus * 10}.000000",) * 2  # type: ignore[return-value]
    elif metric == "volume_gb_hours":
        return (f"{VOLUME_GB[i % 4]}.000000",) * 2  # type: ignore[return-value]
    elif metric == "gpu_hours":
        if i % 10:
            return None
        busy = Decimal(2)
    else:
        raise ValueError(metric)
    return f"{busy:.6f}", f"{busy / 4:.6f}"


def _load(
    url: str, tenants: int, metrics: tuple[str, ...], year: int, years: int = 1
) -> tuple[int, float, float]:
    """Create the pilots and tenants and COPY ``years`` of hourly usage from ``year``.

    The triggers on ``usage_record`` are off during the COPY; ``usage_total``,
    ``usage_day`` and ``usage_month`` are then filled by the migrations' own backfill
    statements (timed: what migrations 0011 and 0016 cost on this history).  Returns
    (records, load seconds, rollup backfill seconds).
    """
    import psycopg
    from support.pgserver import _conninfo

    from ngc_pilot import migrate
    from ngc_pilot.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    pilots = [f"B-{i:04d}" for i in range(1, tenants + 1)]
    created = datetime(year - 1, 12, 1, tzinfo=UTC)
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO selection_decision (id, decided_at, decided_by, reason, policy_digest,"
            " k_min, k_max, lock_in, lock_out, objective, optimal, selected, explanations)"
            " VALUES (1, %s, 'bench', 'bench', 'bench', 1, %s, '[]', '[]', 0, true, '[]', '{}')",
            (created, tenants),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO application (id, name, pi_name, pi_email, institution,"
                " institution_type, nominated_by, data_volume_bytes, maturity, ready_date,"
                " commits_to_evaluation, data_processing_agreement, document, source, revision,"
                " created_at, updated_at) VALUES (%s, %s, %s, %s, 'Bench University',"
                " 'university', 'bench', 1, 3, %s, true, 'signed', '{}', 'bench', 1, %s, %s)",
                [
                    (f"A-{p}", f"Project {p}", f"PI {p}", f"{p.lower()}@example.org",
                     date(year, 1, 1), created, created)
                    for p in pilots
                ],
            )  # fmt: skip
            cur.executemany(
                "INSERT INTO pilot (id, application_id, decision_id, state, planned_start,"
                " planned_end, created_at, updated_at) VALUES (%s, %s, 1, 'selected', %s, %s, %s, %s)",
                [
                    (p, f"A-{p}", date(year, 1, 1), date(year, 12, 31), created, created)
                    for p in pilots
                ],
            )
            cur.executemany(
                "INSERT INTO tenant (pilot_id, cloud, size, project_name, project_id, cidr, state,"
                " created_at, updated_at) VALUES (%s, 'bench', 'small', %s, %s, '10.0.0.0/24',"
                " 'active', %s, %s)",
                [(p, f"ngc-{p.lower()}", uuid.uuid4().hex, created, created) for p in pilots],
            )
        # Bulk load without per-row index and foreign-key upkeep; rebuilt below.
        kept = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'usage_record'::regclass AND contype <> 'p'"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_record'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint"
            "  WHERE conrelid = 'usage_record'::regclass)"
        ).fetchall()
        conn.execute("ALTER TABLE usage_record DISABLE TRIGGER USER")
        for name, _ in kept:
            conn.execute(f'ALTER TABLE usage_record DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        per_tenant = [
            (f"{p}\t{m}\t", values)
            for i, p in enumerate(pilots)
            for m in metrics
            if (values := _usage_of(i, m)) is not None
        ]
        start = datetime(year, 1, 1, tzinfo=UTC)
        hours = (datetime(year + years, 1, 1, tzinfo=UTC) - start) // timedelta(hours=1)
        records = 0
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY usage_record (pilot_id, metric, window_start, window_end, quantity, source,"
                " collected_at) FROM STDIN"
            ) as copy,
        ):
            for h in range(hours):
                ws = start + timedelta(hours=h)
                we = ws + timedelta(hours=1)
                busy = 7 <= ws.hour < 19 and ws.weekday() < 5
                start_s, end_s = f"{ws:%Y-%m-%d %H:%M:%S}+00", f"{we:%Y-%m-%d %H:%M:%S}+00"
                rows = [
                    f"{prefix}{start_s}\t{end_s}\t{values[0] if busy else values[1]}\tbench\t{end_s}\n"
                    for prefix, values in per_tenant
                ]
                records += len(rows)
                copy.write("".join(rows))
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in kept:
            conn.execute(f'ALTER TABLE usage_record ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE usage_record")
        conn.execute(
            "INSERT INTO usage_total (pilot_id, metric, quantity) SELECT pilot_id, metric,"
            " sum(quantity) FROM usage_record GROUP BY pilot_id, metric"
        )
        backfill_started = time.perf_counter()
        conn.execute("SET work_mem = '256MB'")
        conn.execute(_rollup_migration()._PG_BACKFILL)
        conn.execute(_month_rollup_migration()._PG_BACKFILL)
        backfill = time.perf_counter() - backfill_started
        conn.execute("VACUUM ANALYZE usage_day")
        conn.execute("VACUUM ANALYZE usage_month")
        conn.execute("ALTER TABLE usage_record ENABLE TRIGGER USER")
    return records, time.perf_counter() - started, backfill


def _rollup_migration() -> Any:
    """Migration 0011's module (its backfill statements)."""
    import importlib

    return importlib.import_module("ngc_pilot.migrations.versions.0011_usage_day_rollup")


def _month_rollup_migration() -> Any:
    """Migration 0016's module (the monthly rollup's backfill from the days)."""
    import importlib

    return importlib.import_module("ngc_pilot.migrations.versions.0016_usage_month_rollup")


def _rowwise(url: str, plan: list[tuple[Any, list[Any]]]) -> dict[tuple[str, str], dict]:
    """Baseline: the aggregation of ``usage_aggregation.aggregate`` done row by row in Python."""
    import psycopg
    from support.pgserver import _conninfo

    from policies.rating import PRICED_METRICS

    starts: list[datetime] = []
    keys: list[tuple[str, int]] = []
    for month, segs in plan:
        for seg in segs:
            starts.append(datetime.combine(seg.period_from, datetime.min.time(), tzinfo=UTC))
            keys.append((str(month), seg.index))
    first = starts[0]
    last = datetime.combine(plan[-1][0].until, datetime.min.time(), tzinfo=UTC)
    sums: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(Decimal))
    with psycopg.connect(_conninfo(url)) as conn, conn.cursor(name="usage_stream") as cur:
        cur.itersize = 20000
        cur.execute(
            "SELECT pilot_id, metric, window_start, quantity FROM usage_record"
            " WHERE window_start >= %s AND window_start < %s AND metric = ANY(%s)",
            (first, last, list(PRICED_METRICS)),
        )
        for pilot_id, metric, window_start, quantity in cur:
            month, index = keys[bisect.bisect_right(starts, window_start) - 1]
            sums[(pilot_id, month)][(metric, index)] += quantity
    return {k: dict(v) for k, v in sums.items()}


def _canonical(sums: dict) -> list:
    """Sums as sorted reprs: equal when every Decimal is the same digit for digit."""
    return sorted(
        (key, sorted((k, repr(v)) for k, v in usage.items())) for key, usage in sums.items()
    )


def _invoice_fingerprint(url: str) -> list[tuple]:
    """Every invoice line's amounts, in order: to compare two rating runs."""
    import psycopg
    from support.pgserver import _conninfo

    with psycopg.connect(_conninfo(url)) as conn:
        return conn.execute(
            "SELECT i.pilot_id, i.month, i.revision, i.list_total, i.charged_total, l.item,"
            " l.price_version, l.quantity::text, l.list_amount::text FROM invoice i"
            " JOIN invoice_line l ON l.invoice_id = i.id ORDER BY 1, 2, 3, 6, 7"
        ).fetchall()


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def bench_invoices(
    tenants: int = 1000,
    metrics: tuple[str, ...] = ALL_METRICS,
    year: int = 2021,
    reuse_db: str | None = None,
    repeat: int = 1,
    years: int = 1,
) -> dict[str, Any]:
    import psycopg
    from sqlmodel import Session
    from support.pgserver import _conninfo, create_database, drop_database, server_url

    from ngc_pilot import billing, usage_aggregation
    from ngc_pilot.db import make_engine
    from policies.prices import load_prices
    from policies.rating import Month

    admin, private = server_url()
    name = reuse_db or f"ngc_bench_invoices_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        settings = {
            s: conn.execute(f"SHOW {s}").fetchone()[0]
            for s in (
                "server_version",
                "shared_buffers",
                "work_mem",
                "max_parallel_workers_per_gather",
                "jit",
            )
        }
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    out: dict[str, Any] = {"database": name, "server": settings}
    try:
        loaded = False
        if exists:
            with psycopg.connect(_conninfo(url), autocommit=True) as conn:
                has = conn.execute("SELECT to_regclass('usage_record') IS NOT NULL").fetchone()[0]
                loaded = bool(has) and bool(
                    conn.execute("SELECT EXISTS (SELECT 1 FROM usage_record)").fetchone()[0]
                )
            if not loaded:
                drop_database(admin, name)
        if not loaded:
            url = create_database(admin, name)
            records, seconds, backfill = _load(url, tenants, metrics, year, years)
            out["load_seconds"] = seconds
            out["backfill_seconds"] = backfill
        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            records = conn.execute("SELECT count(*) FROM usage_record").fetchone()[0]
            tenants = conn.execute("SELECT count(*) FROM tenant").fetchone()[0]
            size = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('usage_record'))"
            ).fetchone()[0]
            conn.execute("TRUNCATE invoice_line, invoice, audit_event")
        out.update(records=records, tenants=tenants, table_size=size)
        print(
            f"## invoices — PostgreSQL {settings['server_version']} ({', '.join(f'{k}={v}' for k, v in settings.items() if k != 'server_version')})"
        )
        print(
            f"{tenants:,} tenants x hourly usage from {year}: {records:,} usage records"
            f" ({size} with indexes)"
            + (
                f", loaded in {out['load_seconds']:.0f} s (of which the rollups' backfills,"
                f" migrations 0011 and 0016, {out['backfill_seconds']:.1f} s)"
                if "load_seconds" in out
                else ", reused"
            )
        )
        load_before = os.getloadavg()
        engine = make_engine(url)
        prices = load_prices()
        with psycopg.connect(_conninfo(url)) as conn:
            last = conn.execute("SELECT max(window_start) FROM usage_record").fetchone()[0]
        rated_year = last.year  # the last year of the history: after `years` of it
        months = [f"{rated_year}-{m:02d}" for m in range(1, 13)]

        # Time the aggregation inside rate_month, to split each run's seconds.
        original = usage_aggregation.aggregate
        aggregate, in_aggregation = usage_aggregation.aggregate, [0.0]

        def timed_aggregate(*a: Any, **k: Any) -> Any:
            seconds, result = _timed(lambda: aggregate(*a, **k))
            in_aggregation[0] += seconds
            return result

        usage_aggregation.aggregate = timed_aggregate  # type: ignore[assignment]

        def rate_each() -> list[float]:
            times = []
            for m in months:
                t, _ = _timed(lambda m=m: billing.rate_month(engine, prices, m, actor="bench"))
                times.append(t)
            return times

        with psycopg.connect(_conninfo(url)) as conn:  # warm the cache: one pass over the table
            warm, _ = _timed(lambda: conn.execute("SELECT count(*) FROM usage_record").fetchone())
        first = rate_each()
        first_aggregation, in_aggregation[0] = in_aggregation[0], 0.0
        fingerprint = _invoice_fingerprint(url)
        with psycopg.connect(_conninfo(url)) as conn:
            invoices = conn.execute("SELECT count(*) FROM invoice").fetchone()[0]
            lines = conn.execute("SELECT count(*) FROM invoice_line").fetchone()[0]
        unchanged = [sum(rate_each()) for _ in range(repeat)]
        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            conn.execute("TRUNCATE invoice_line, invoice, audit_event")
        one_call, _ = _timed(lambda: billing.rate_months(engine, prices, months, actor="bench"))
        # The current path before the rollup, same data, same run: the hourly records.
        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            conn.execute("TRUNCATE invoice_line, invoice, audit_event")
        aggregate, in_aggregation[0] = usage_aggregation.aggregate_hourly, 0.0
        hourly_each = rate_each()
        hourly_aggregation = in_aggregation[0]
        same_invoices = _invoice_fingerprint(url) == fingerprint
        aggregate = usage_aggregation.aggregate = original  # type: ignore[assignment]

        plan = [
            (Month.parse(m), usage_aggregation.segments_for(prices, Month.parse(m))) for m in months
        ]
        with Session(engine) as session:
            monthly = []
            for _ in range(repeat):
                monthly.append(
                    sum(
                        _timed(lambda p=p: usage_aggregation.aggregate(session, [p]))[0]
                        for p in plan
                    )
                )
            yearly = []
            for _ in range(repeat):
                t, sql_sums = _timed(lambda: usage_aggregation.aggregate(session, plan))
                yearly.append(t)
            monthly_hourly = []
            for _ in range(repeat):
                monthly_hourly.append(
                    sum(
                        _timed(lambda p=p: usage_aggregation.aggregate_hourly(session, [p]))[0]
                        for p in plan
                    )
                )
            hourly_sums = usage_aggregation.aggregate_hourly(session, plan)
        baseline, row_sums = _timed(lambda: _rowwise(url, plan))
        same = row_sums == sql_sums == hourly_sums and _canonical(sql_sums) == _canonical(
            hourly_sums
        )
        engine.dispose()
        load_after = os.getloadavg()

        med = statistics.median
        rows = [
            ("rate_month x 12, empty tables (writes every invoice) — the goal", sum(first)),
            (
                "  the same on the hourly records (the path before the daily rollup), same run",
                sum(hourly_each),
            ),
            (f"rate_month x 12, nothing changed (median of {repeat})", med(unchanged)),
            ("rate_months, all 12 months in one call (writes every invoice)", one_call),
            (f"SQL aggregation only, 12 monthly queries (median of {repeat})", med(monthly)),
            (
                f"  the same 12 queries on the hourly records (median of {repeat})",
                med(monthly_hourly),
            ),
            (f"SQL aggregation only, one query for the year (median of {repeat})", med(yearly)),
            ("baseline: the same aggregation row by row in Python, streamed cursor", baseline),
        ]
        overhead = sum(first) - first_aggregation
        print(
            f"{invoices:,} invoices with {lines:,} lines for {len(months)} months "
            f"(cache warmed by one count(*) over the table: {warm:.1f} s)"
        )
        print("| what | seconds |")
        print("|---|---:|")
        for label, seconds in rows:
            print(f"| {label} | {seconds:.2f} |")
        print(
            f"slowest month {max(first):.2f} s, fastest {min(first):.2f} s; "
            f"SQL vs baseline aggregation: {baseline / med(yearly):.1f}x faster; "
            f"sums identical (rollup, hourly SQL, row by row): {'yes' if same else 'NO'}; "
            f"the hourly path wrote the same invoices again: {'yes' if same_invoices else 'NO'}"
        )
        goal = sum(first)
        verdict = "met" if goal <= 1.5 else "NOT met"
        print(
            f"goal: shadow invoices for all tenants, all 12 months of {rated_year} <= 1.5 s:"
            f" {goal:.2f} s — {verdict} (hourly path, same run: {sum(hourly_each):.2f} s)"
        )
        print(
            f"of which SQL aggregation {first_aggregation:.2f} s (hourly path"
            f" {hourly_aggregation:.2f} s) and rating + reading + writing {overhead:.2f} s"
        )
        print(
            f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f} "
            f"on {os.cpu_count()} CPUs shared with other work"
        )
        out.update(
            invoices=invoices,
            lines=lines,
            rate_each=first,
            unchanged=unchanged,
            one_call=one_call,
            aggregation_monthly=monthly,
            aggregation_yearly=yearly,
            baseline=baseline,
            sums_identical=same,
            hourly_each=hourly_each,
            load=(load_before, load_after),
        )
        return out
    finally:
        if reuse_db is None:
            drop_database(admin, name)
        if private is not None:
            private.stop()


# --------------------------------------------------------------------- cycle
#
# The metering part's section.  A metering cycle for N tenants against
# devcloud: N scratch projects (admin-made, no ngc-pilot provisioning: the
# meter needs only a project id per tenant), each with one ngc.small server
# and one 1 GB volume; one in eight servers is an ngc.gpu.1.  Other servers on
# devcloud (other tests) are in Nova's answers too, as they would be on a
# shared cloud.  The tenants'
# rows go into a scratch SQLite database (the default deployment).  Windows
# are one minute long so that the servers run through every metered window;
# the section waits until four windows have passed since the servers became
# ACTIVE (about ten minutes in all).
#
# Timed in the same run, over four windows (the shape of a steady cycle: the
# window that just ended plus the three recomputed), with N/2 tenants (their
# windows end before the other N/2 servers launch) and with N, in interleaved
# rounds (medians of five), each split into cloud reads and the rest:
#   1. ``metering.meter`` writing every record (the goal's number);
#   2. the same again, nothing changed;
#   3. the database side for 100 tenants: the same cycle with devcloud's
#      samples of the N tenants replayed for 100 tenant rows;
#   4. baseline (N tenants): the same reads done naively, per tenant and
#      window — Nova's usage of one project, the flavor and extra specs of
#      each server by name, the project's volumes — and each record written
#      by an ORM select-then-insert, committed per tenant and window.
# Baseline and cycle write the same quantities; the section checks that.
#
# Extrapolation to 100 tenants, stated: the database side is measured (3);
# the cloud reads are extrapolated on the line through N/2 and N (a cycle
# makes the same requests for any number of tenants; only the answers grow),
# and, as a pessimistic bound, proportionally to the tenants.

CYCLE_WINDOWS = 4


def _cycle_cloud(conn: Any, first: int, count: int, run: str) -> list[dict[str, Any]]:
    """``count`` projects with a server and a volume each (admin-made)."""
    from concurrent.futures import ThreadPoolExecutor

    from keystoneauth1.exceptions import ConnectFailure

    from provisioner.openstack import cloud_config, connect_with

    config = cloud_config("devcloud", REPO / ".devcloud" / "clouds.yaml")
    auth = {
        k: v
        for k, v in config["auth"].items()
        if k not in ("project_name", "project_domain_name", "project_domain_id")
    }
    image = conn.compute.find_image("devcloud-tiny") or conn.image.find_image("devcloud-tiny")
    flavors = {
        f: conn.compute.find_flavor(f, ignore_missing=False) for f in ("ngc.small", "ngc.gpu.1")
    }
    admin_role = conn.identity.find_role("admin", ignore_missing=False)
    me = conn.current_user_id

    def one(i: int) -> dict[str, Any]:
        project = conn.identity.create_project(
            name=f"ngc-bench-meter-{run}-{i}", domain_id="default", description="bench/metering.py"
        )
        conn.identity.assign_project_role_to_user(project, me, admin_role)
        conn.compute.update_quota_set(project.id, cores=16, ram=131072)
        scoped = connect_with({**auth, "project_id": project.id}, config.get("region_name"))
        flavor = flavors["ngc.gpu.1" if i % 8 == 0 else "ngc.small"]
        server = scoped.compute.create_server(
            name=f"bench-{i}", image_id=image.id, flavor_id=flavor.id, networks="none"
        )
        volume = scoped.block_storage.create_volume(name=f"bench-{i}", size=1)
        for attempt in range(3):  # a loaded devcloud resets the odd connection
            try:
                server = scoped.compute.wait_for_server(server, wait=300)
                scoped.block_storage.wait_for_status(volume, "available", wait=300)
                break
            except ConnectFailure:
                if attempt == 2:
                    raise
                time.sleep(2)
        scoped.close()
        return {"project_id": project.id, "server_id": server.id, "volume_id": volume.id}

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(one, i) for i in range(first, first + count)]
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        prefix = f"ngc-bench-meter-{run}-"
        made = [p for p in conn.identity.projects() if p.name.startswith(prefix)]
        _cycle_cleanup(conn, [{"project_id": p.id} for p in made])
        raise failed[0]
    return [f.result() for f in futures]


def _cycle_cleanup(conn: Any, projects: list[dict[str, Any]]) -> None:
    """Delete the projects' servers and volumes, then the projects."""
    servers, volumes = [], []
    for p in projects:
        servers += list(conn.compute.servers(all_projects=True, project_id=p["project_id"]))
        volumes += list(conn.block_storage.volumes(all_projects=True, project_id=p["project_id"]))
    for server in servers:
        conn.compute.delete_server(server, ignore_missing=True, force=True)
    for volume in volumes:
        conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=120)
        conn.block_storage.delete_volume(volume, ignore_missing=True, force=True)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=120)
    for volume in volumes:
        conn.block_storage.wait_for_delete(volume, wait=120)
    for p in projects:
        conn.identity.delete_project(p["project_id"], ignore_missing=True)


def _cycle_db(engine: Any, projects: list[dict[str, Any]], first: int, created: datetime) -> None:
    """Pilot and tenant rows ``M-<first>``... for the projects."""
    from ngc_pilot.db import session_scope
    from ngc_pilot.models import Application, Pilot, SelectionDecision, Tenant

    with session_scope(engine) as session:
        decision = SelectionDecision(
            decided_by="bench", reason="bench", policy_digest="bench", k_min=1,
            k_max=len(projects), objective=0.0, optimal=True,
        )  # fmt: skip
        session.add(decision)
        session.flush()
        for i, p in enumerate(projects, start=first):
            pid = p["pilot_id"] = f"M-{i:03d}"
            session.add(
                Application(
                    id=pid, name=pid, pi_name=pid, pi_email=f"{pid.lower()}@example.org",
                    institution="Bench", institution_type="university", nominated_by="bench",
                    data_volume_bytes=1, maturity=3, ready_date=created.date(),
                    commits_to_evaluation=True, data_processing_agreement="signed",
                    document={}, source="bench",
                )
            )  # fmt: skip
            session.flush()
            session.add(
                Pilot(
                    id=pid, application_id=pid, decision_id=decision.id,
                    planned_start=created.date(), planned_end=created.date() + timedelta(days=90),
                )
            )  # fmt: skip
            session.flush()
            session.add(
                Tenant(
                    pilot_id=pid, cloud="devcloud", size="small", project_name=pid,
                    project_id=p["project_id"], cidr=f"10.240.{i}.0/24", state="active",
                    created_at=created, updated_at=created,
                )
            )  # fmt: skip


def _cycle_naive(engine: Any, conn: Any, tenants: list[tuple[str, str]], windows: list[Any]) -> int:
    """Baseline: every read per tenant and window, every record select-then-insert."""
    import json

    from sqlmodel import Session, select

    from ngc_pilot.metering import quantize
    from ngc_pilot.models import UsageRecord
    from policies.windows import overlap_hours
    from provisioner.usage import GPU_SPEC

    requests = 0
    fmt = "%Y-%m-%dT%H:%M:%S"
    for window in windows:
        for pilot_id, project_id in tenants:
            body = conn.compute.get(
                f"/os-simple-tenant-usage/{project_id}?start={window.start.strftime(fmt)}"
                f"&end={window.end.strftime(fmt)}",
                microversion="2.40",
            )
            requests += 1
            usage = json.loads(body.text, parse_float=Decimal)["tenant_usage"]
            gpu = Decimal(0)
            for server in usage.get("server_usages", []):
                flavor = conn.compute.find_flavor(server["flavor"], ignore_missing=False)
                specs = conn.compute.fetch_flavor_extra_specs(flavor).extra_specs or {}
                requests += 2
                gpu += Decimal(server["hours"]) * int(specs.get(GPU_SPEC, 0))
            volume = Decimal(0)
            for v in conn.block_storage.volumes(all_projects=True, project_id=project_id):
                created = datetime.fromisoformat(v.created_at).replace(tzinfo=UTC)
                volume += int(v.size) * overlap_hours(created, None, window.start, window.end)
            requests += 1
            values = {
                "vcpu_hours": (Decimal(usage.get("total_vcpus_usage", 0)), "nova"),
                "ram_gb_hours": (Decimal(usage.get("total_memory_mb_usage", 0)) / 1024, "nova"),
                "disk_gb_hours": (Decimal(usage.get("total_local_gb_usage", 0)), "nova"),
                "gpu_hours": (gpu, "nova"),
                "volume_gb_hours": (volume, "cinder"),
            }
            with Session(engine) as session:
                for metric, (quantity, source) in values.items():
                    row = session.exec(
                        select(UsageRecord).where(
                            UsageRecord.pilot_id == pilot_id,
                            UsageRecord.metric == metric,
                            UsageRecord.window_start == window.start,
                        )
                    ).first()
                    if row is None:
                        row = UsageRecord(
                            pilot_id=pilot_id, metric=metric, window_start=window.start,
                            window_end=window.end, quantity=quantize(quantity), source=source,
                        )  # fmt: skip
                    else:
                        row.quantity = quantize(quantity)
                    session.add(row)
                session.commit()
    return requests


def _cycle_records(engine: Any) -> dict[tuple[str, str, datetime], Decimal]:
    from sqlmodel import Session, select

    from ngc_pilot.models import UsageRecord

    with Session(engine) as session:
        return {
            (r.pilot_id, r.metric, r.window_start): r.quantity
            for r in session.exec(select(UsageRecord)).all()
        }


def _cycle_wait(booted: datetime) -> list[Any]:
    """Sleep until CYCLE_WINDOWS one-minute windows have passed after ``booted``; those windows."""
    from policies import windows as W

    first = W.ceil(booted, 1)
    windows = W.grid(first, first + timedelta(minutes=CYCLE_WINDOWS), 1)
    ready = windows[-1].end + timedelta(seconds=2)
    wait = max(0.0, (ready - datetime.now(UTC)).total_seconds())
    print(f"  waiting {wait:.0f} s until {CYCLE_WINDOWS} one-minute windows have passed")
    time.sleep(wait)
    return windows


def _cycle_forget(engine: Any) -> None:
    from sqlmodel import Session, delete

    from ngc_pilot.models import MeterWindow, UsageRecord

    with Session(engine) as session:
        session.exec(delete(UsageRecord))
        session.exec(delete(MeterWindow))
        session.commit()


def _cycle_prov(engine: Any, tmp: Path, backend: Callable[[], Any]) -> Any:
    from ngc_pilot.provisioner_config import Provisioner
    from policies.tenancy import load_tenant_policy

    return Provisioner(
        engine=engine,
        tenant_policy=load_tenant_policy(),
        backend_factory=backend,
        cloud="devcloud",
        environments_dir=tmp / "environments",
        actor="bench",
    )


def _cycle_once(prov: Any, windows: list[Any], fresh: bool) -> Any:
    """One cycle over ``windows``; ``fresh``: with no record stored before (all written)."""
    from ngc_pilot import metering
    from ngc_pilot.settings import MeteringSettings

    if fresh:
        _cycle_forget(prov.engine)
    minute = MeteringSettings(window_minutes=1, recompute_windows=3, backfill_max_windows=744)
    started = time.perf_counter()
    report = metering.meter(prov, minute, since=windows[0].start, until=windows[-1].end)
    return time.perf_counter() - started, report


class _Replay:
    """A reader answering for 100 tenants with the samples devcloud gave for N (tenant i
    gets what tenant i mod N got): the database side of a 100-tenant cycle, measured."""

    def __init__(self, samples: dict[tuple[datetime, str], list[Any]], projects: list[str]):
        self.samples, self.projects = samples, projects

    def usage(self, project_ids: Any, start: datetime, end: datetime) -> list[Any]:
        from provisioner.usage import UsageSample

        out = []
        for project in project_ids:
            real = self.projects[int(project.removeprefix("replay-")) % len(self.projects)]
            out.extend(
                UsageSample(project, s.metric, s.quantity, s.source)
                for s in self.samples[(start, real)]
            )
        return out


class _Recording:
    """The OpenStack backend, keeping the samples it returns (for the replay)."""

    def __init__(self, backend: Any, into: dict[tuple[datetime, str], list[Any]]):
        self.backend, self.into = backend, into

    def usage(self, project_ids: Any, start: datetime, end: datetime) -> list[Any]:
        samples = self.backend.usage(project_ids, start, end)
        for sample in samples:
            self.into.setdefault((start, sample.project_id), []).append(sample)
        return samples


def bench_cycle(tenants: int = 10, repeat: int = 5) -> dict[str, Any]:
    import tempfile

    from ngc_pilot import migrate
    from ngc_pilot.db import make_engine
    from provisioner.openstack import OpenStackBackend, connect

    clouds = REPO / ".devcloud" / "clouds.yaml"
    small = max(1, tenants // 2)
    print(f"## cycle — a metering cycle for {small} and {tenants} tenants against devcloud")
    run = uuid.uuid4().hex[:6]
    conn = connect("devcloud", clouds)
    scratch = tempfile.TemporaryDirectory(prefix="ngc-bench-cycle-")
    tmp = Path(scratch.name)
    engines = {}
    for name in ("small", "full", "replay"):
        engines[name] = make_engine(f"sqlite:///{tmp / f'{name}.db'}")
        migrate.upgrade(engines[name])

    def backend() -> Any:
        return OpenStackBackend("devcloud", clouds)

    projects: list[dict[str, Any]] = []
    spans = {}
    try:
        # Two batches in turn: the second batch's servers launch after the first
        # batch's windows end, so Nova leaves them out of those windows.
        for name, first, count in (("small", 0, small), ("full", small, tenants - small)):
            started = time.perf_counter()
            batch = _cycle_cloud(conn, first, count, run)
            projects += batch
            booted = datetime.now(UTC)
            print(
                f"{count} projects with a server (every 8th ngc.gpu.1, else ngc.small) and a "
                f"1 GB volume each, made in {time.perf_counter() - started:.0f} s"
            )
            _cycle_db(engines["full"], batch, first, booted - timedelta(hours=1))
            if name == "small":
                _cycle_db(engines["small"], batch, first, booted - timedelta(hours=1))
            spans[name] = _cycle_wait(booted)
        provs = {name: _cycle_prov(engines[name], tmp, backend) for name in ("small", "full")}

        # Interleaved rounds, so that the machine's load drifts over both sizes alike.
        med = statistics.median
        times: dict[tuple[str, bool], list[tuple[float, Any]]] = defaultdict(list)
        for _ in range(repeat):
            for name in ("small", "full"):
                for fresh in (True, False):
                    times[(name, fresh)].append(_cycle_once(provs[name], spans[name], fresh))
        stored = _cycle_records(engines["full"])
        report = times[("full", True)][-1][1]
        assert report.records_new == len(report.windows) * tenants * 5, report.as_dict()

        # The database side at 100 tenants, with devcloud's own samples replayed.
        samples: dict[tuple[datetime, str], list[Any]] = {}
        recording = _cycle_prov(engines["full"], tmp, lambda: _Recording(backend(), samples))
        _cycle_once(recording, spans["full"], fresh=True)
        replay_projects = [{"project_id": f"replay-{i}"} for i in range(100)]
        _cycle_db(
            engines["replay"], replay_projects, 0, spans["full"][0].start - timedelta(hours=1)
        )
        replay = _cycle_prov(
            engines["replay"],
            tmp,
            lambda: _Replay(samples, [p["project_id"] for p in projects]),
        )
        replayed = {
            fresh: [_cycle_once(replay, spans["full"], fresh) for _ in range(repeat)]
            for fresh in (True, False)
        }

        # Baseline: naive reads and writes, same windows, same tenants.
        base_conn = backend().conn
        pairs = [(p["pilot_id"], p["project_id"]) for p in projects]
        base = []
        windows = spans["full"]
        for _ in range(max(1, repeat // 2)):
            _cycle_forget(engines["full"])
            base.append(_timed(lambda: _cycle_naive(engines["full"], base_conn, pairs, windows)))
        t_base, requests = med(t for t, _ in base), base[-1][1]
        same = _cycle_records(engines["full"]) == stored

        def split(key: tuple[str, bool]) -> tuple[float, float, float]:
            runs = times[key]
            total = med(t for t, _ in runs)
            cloud = med(r.cloud_seconds for _, r in runs)
            return total, cloud, med(t - r.cloud_seconds for t, r in runs)

        print(
            f"{len(report.windows)} one-minute windows x {tenants} tenants: {report.records_new} "
            f"records; vCPU-hours {report.totals['vcpu_hours']}, GPU-hours "
            f"{report.totals['gpu_hours']}, volume GB-hours {report.totals['volume_gb_hours']}"
        )
        print(
            f"| what (median of {repeat}) | tenants | seconds | cloud reads | database + Python |"
        )
        print("|---|---:|---:|---:|---:|")
        for label, fresh in (
            ("cycle, every record written", True),
            ("cycle, nothing changed", False),
        ):
            for name, n in (("small", small), ("full", tenants)):
                total, cloud, rest = split((name, fresh))
                print(f"| {label} | {n} | {total:.2f} | {cloud:.2f} | {rest:.2f} |")
            replay_rest = med(t - r.cloud_seconds for t, r in replayed[fresh])
            print(f"| {label}, devcloud's samples replayed | 100 | — | — | {replay_rest:.2f} |")
        print(
            f"| baseline: naive reads per tenant and window ({requests} requests), "
            f"ORM select-then-insert | {tenants} | {t_base:.2f} | — | — |"
        )
        c_small, c_full = split(("small", True))[1], split(("full", True))[1]
        slope = (c_full - c_small) / (tenants - small) if tenants > small else 0.0
        rest_100 = med(t - r.cloud_seconds for t, r in replayed[True])
        cloud_fit = c_full + max(slope, 0.0) * (100 - tenants)
        cloud_prop = c_full / tenants * 100
        estimate, pessimistic = cloud_fit + rest_100, cloud_prop + rest_100
        print(
            f"baseline / cycle at {tenants} tenants: {t_base / split(('full', True))[0]:.1f}x; "
            f"records identical: {'yes' if same else 'NO'}"
        )
        print(
            "100 tenants, estimated: cloud reads extrapolated + database side measured with "
            f"100 replayed tenants ({rest_100:.2f} s).  Cloud reads on the line through "
            f"{small} and {tenants} tenants ({slope * 1000:+.1f} ms per tenant"
            + (", not resolved above noise: taken as 0" if slope <= 0 else "")
            + f"): {cloud_fit:.2f} s, total {estimate:.2f} s; cloud reads proportional to "
            f"tenants instead (pessimistic: they are per window, not per tenant): "
            f"{cloud_prop:.2f} s, total {pessimistic:.2f} s; the baseline proportional: "
            f"{t_base / tenants * 100:.0f} s"
        )
        if pessimistic <= 5.0:
            verdict = "met, also on the pessimistic bound"
        elif estimate <= 5.0:
            verdict = "met on the estimate, not on the pessimistic bound"
        else:
            verdict = "NOT met"
        print(
            f"goal: a metering cycle for 100 tenants <= 5 s: {estimate:.2f} s "
            f"(pessimistic {pessimistic:.2f} s) — {verdict}"
        )
        return {
            "tenants": [small, tenants],
            "cycle": {f"{n}:{f}": split((n, f)) for n in ("small", "full") for f in (True, False)},
            "replay_100": rest_100,
            "baseline": t_base,
            "baseline_requests": requests,
            "identical": same,
            "estimate_100": estimate,
            "pessimistic_100": pessimistic,
        }
    finally:
        for engine in engines.values():
            engine.dispose()
        _cycle_cleanup(conn, projects)
        scratch.cleanup()


# ------------------------------------------------------------------------ metrics
#
# /metrics with 1,000 tenants (goal: <= 50 ms).  The database is loaded
# directly: tenants in every state and size, invoices with revisions, the step
# ledger, then per usage history length hourly usage of five metrics for every
# tenant (usage_total kept by its triggers, as in production), job runs and a
# capacity snapshot every five minutes.  After each load,
# `ngc_pilot.metrics_server.start_metrics_server` is scraped over HTTP with the headers
# Prometheus sends (the server `serve` runs: ngc_pilot.metrics_cache.ScrapeCache,
# per-tenant blocks reused while their rows are unchanged), and the parts are
# timed: a scrape with nothing changed, one right after a metering window was
# written, the first one of a new server; the registry path's eleven queries (usage totals
# alone), the rendering.  Baselines in the same run, same data:
#   * rendering: prometheus_client's OpenMetrics exposition of the same families;
#   * summing every usage record on every scrape instead of reading usage_total;
#   * per-tenant queries: the same collector reading each tenant's usage,
#     invoices and failures with queries of its own (the N+1 pattern);
#   * prometheus_client's own HTTP server (OpenMetrics, gzip level 9).
# And what usage_total's triggers cost the meter: metering's own upsert of one
# window for every tenant, with the triggers and with them switched off.
# SQLite and PostgreSQL (tests/support/pgserver.py), a scratch database each.


def _metrics_seed_tenants(engine, tenants: int, start) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, insert, select

    from ngc_pilot.models import (
        Application,
        Invoice,
        Pilot,
        ProvisionStep,
        SelectionDecision,
        Tenant,
    )

    ids = [f"BM-{n:04d}" for n in range(tenants)]
    sizes = ("small", "small", "medium", "large", "gpu")
    states = ["active"] * 16 + ["suspended", "failed", "provisioning", "torn_down"]
    with engine.begin() as conn:
        conn.execute(
            insert(SelectionDecision),
            [
                {
                    "decided_at": start,
                    "decided_by": "bench",
                    "reason": "bench",
                    "policy_digest": "0" * 64,
                    "k_min": 1,
                    "k_max": tenants,
                    "lock_in": [],
                    "lock_out": [],
                    "objective": 0.0,
                    "optimal": True,
                    "selected": [],
                    "explanations": {},
                }
            ],
        )
        decision = conn.execute(select(func.max(SelectionDecision.id))).scalar()
        conn.execute(
            insert(Application),
            [
                {
                    "id": i,
                    "name": f"Project {i}",
                    "pi_name": "PI",
                    "pi_email": "pi@example.org",
                    "institution": f"Institution {n % 97}",
                    "institution_type": "university",
                    "nominated_by": "bench",
                    "data_volume_bytes": 10**12,
                    "maturity": 3,
                    "ready_date": date(2021, 4, 15),
                    "commits_to_evaluation": True,
                    "data_processing_agreement": "signed",
                    "document": {},
                    "source": "bench",
                    "revision": 1,
                    "created_at": start,
                    "updated_at": start,
                }
                for n, i in enumerate(ids)
            ],
        )
        conn.execute(
            insert(Pilot),
            [
                {
                    "id": i,
                    "application_id": i,
                    "decision_id": decision,
                    "state": "selected",
                    "planned_start": start.date(),
                    "planned_end": start.date() + timedelta(days=120 + n % 60),
                    "created_at": start,
                    "updated_at": start,
                }
                for n, i in enumerate(ids)
            ],
        )
        conn.execute(
            insert(Tenant),
            [
                {
                    "pilot_id": i,
                    "cloud": "bench",
                    "size": sizes[n % len(sizes)],
                    "project_name": f"ngc-{i.lower()}",
                    "project_id": uuid.uuid4().hex,
                    "cidr": f"10.{240 + n // 256}.{n % 256}.0/24",
                    "state": states[n % len(states)],
                    "created_at": start,
                    "updated_at": start,
                }
                for n, i in enumerate(ids)
            ],
        )
        steps = []
        for n, i in enumerate(ids):
            failed = states[n % len(states)] == "failed"
            for k, resource in enumerate(
                ("project", "group", "role", "user", "compute_quota", "network_quota")
                + ("volume_quota", "network", "subnet", "router", "router_interface")
                + ("security_group", "security_group_rule", "application_credential")
            ):
                steps.append(
                    {
                        "pilot_id": i,
                        "run_id": f"run{n:09d}",
                        "step": f"create {resource} {i}",
                        "action": "create",
                        "resource": resource,
                        "status": "failed" if failed and k == 7 else "done",
                        "at": start,
                    }
                )
        conn.execute(insert(ProvisionStep), steps)
        invoices = []
        for n, i in enumerate(ids):
            for month in ("2021-04", "2021-05", "2021-06", "2021-07"):
                for revision in (1, 2) if n % 3 == 0 else (1,):
                    listed = Decimal(1000 + n % 500) + Decimal(revision) / 4
                    invoices.append(
                        {
                            "pilot_id": i,
                            "month": month,
                            "revision": revision,
                            "final": True,
                            "currency": "DKK",
                            "list_total": listed,
                            "discount_total": listed,
                            "charged_total": Decimal("0.00"),
                            "prices": {},
                            "rated_at": start,
                            "rated_by": "bench",
                        }
                    )
        conn.execute(insert(Invoice), invoices)
    return ids


def _metrics_seed_history(engine, ids: list[str], start, first_hour: int, hours: int) -> None:  # type: ignore[no-untyped-def]
    """Hours ``[first_hour, hours)``: usage of every tenant, job runs, capacity snapshots."""
    from sqlalchemy import insert

    from ngc_pilot.models import CapacitySnapshot, JobRun, UsageRecord

    metrics = ("vcpu_hours", "ram_gb_hours", "disk_gb_hours", "volume_gb_hours", "gpu_hours")
    quantities = [Decimal(f"{(n * 7) % 64}.{n % 1000:03d}") for n in range(len(ids))]
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            copy_sql = (
                "COPY usage_record (pilot_id, metric, window_start, window_end, quantity, "
                "source, collected_at) FROM STDIN"
            )
            with cursor.copy(copy_sql) as copy:
                for hour in range(first_hour, hours):
                    ws = start + timedelta(hours=hour)
                    we = ws + timedelta(hours=1)
                    for i, quantity in zip(ids, quantities, strict=True):
                        for metric in metrics:
                            copy.write_row((i, metric, ws, we, quantity, "nova", we))
            raw.commit()
        finally:
            raw.close()
    else:
        with engine.begin() as conn:
            for hour in range(first_hour, hours):
                ws = start + timedelta(hours=hour)
                we = ws + timedelta(hours=1)
                conn.execute(
                    insert(UsageRecord),
                    [
                        {
                            "pilot_id": i,
                            "metric": metric,
                            "window_start": ws,
                            "window_end": we,
                            "quantity": quantity,
                            "source": "nova",
                            "collected_at": we,
                        }
                        for i, quantity in zip(ids, quantities, strict=True)
                        for metric in metrics
                    ],
                )
    runs, snapshots = [], []
    for hour in range(first_hour, hours):
        at = start + timedelta(hours=hour)
        for job in ("meter", "reconcile"):
            runs.append(_metrics_job_run(job, at, hour % 97 == 0))
        if hour % 24 == 0:
            for job in ("expire", "data_access"):
                runs.append(_metrics_job_run(job, at, False))
        for five in range(12):
            taken = at + timedelta(minutes=5 * five)
            runs.append(_metrics_job_run("capacity", taken, False))
            for rc, total, ratio in (
                ("VCPU", 20000, 4.0),
                ("MEMORY_MB", 160_000_000, 1.5),
                ("DISK_GB", 2_000_000, 1.0),
            ):
                snapshots.append(
                    {
                        "taken_at": taken,
                        "resource_class": rc,
                        "total": total,
                        "reserved": 0.0,
                        "allocation_ratio": ratio,
                        "used": total * 0.4,
                        "allocated": total * 0.9 if rc != "DISK_GB" else 0.0,
                    }
                )
    if runs:
        with engine.begin() as conn:
            conn.execute(insert(JobRun), runs)
            conn.execute(insert(CapacitySnapshot), snapshots)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def _metrics_job_run(job: str, at, failed: bool) -> dict:  # type: ignore[no-untyped-def]
    seconds = 1.5 if job != "capacity" else 0.2
    return {
        "job_id": job,
        "scheduled_for": at,
        "started_at": at,
        "finished_at": at + timedelta(seconds=seconds),
        "status": "failed" if failed else "succeeded",
        "attempt": 1,
        "duration_seconds": seconds,
        "summary": {},
        "error": "bench failure" if failed else None,
        "worker": "bench:1",
    }


def _metrics_per_tenant_read(engine):  # type: ignore[no-untyped-def]
    """The baseline reader: tenant-level data with queries per tenant (N+1)."""
    from collections import namedtuple

    from sqlalchemy import func, select

    from ngc_pilot import metrics as M
    from ngc_pilot.models import Invoice, Pilot, ProvisionStep, Tenant, UsageRecord

    TenantRow = namedtuple("TenantRow", "pilot_id platform state size planned_end")
    UsageRow = namedtuple("UsageRow", "pilot_id metric quantity")
    started = time.perf_counter()
    reading = M.Reading()
    with engine.connect() as conn, conn.begin():
        reading.capacity = conn.execute(M.capacity_query()).all()
        reading.job_counts = conn.execute(M.job_counts_query()).all()
        reading.job_last = conn.execute(M.job_last_query()).all()
        for tenant in conn.execute(select(Tenant.pilot_id, Tenant.state, Tenant.size)).all():
            pid = tenant.pilot_id
            end = conn.execute(select(Pilot.planned_end).where(Pilot.id == pid)).scalar()
            reading.tenants.append(TenantRow(pid, "openstack", tenant.state, tenant.size, end))
            for metric in M.USAGE_METRICS:
                total = conn.execute(
                    select(func.sum(UsageRecord.quantity)).where(
                        UsageRecord.pilot_id == pid, UsageRecord.metric == metric
                    )
                ).scalar()
                if total is not None:
                    reading.usage.append(UsageRow(pid, metric, total))
            latest: dict[str, tuple[int, Decimal, Decimal]] = {}
            for month, revision, listed, charged in conn.execute(
                select(
                    Invoice.month, Invoice.revision, Invoice.list_total, Invoice.charged_total
                ).where(Invoice.pilot_id == pid, Invoice.currency == "DKK")
            ):
                if month not in latest or revision > latest[month][0]:
                    latest[month] = (revision, listed, charged)
            if latest:
                reading.costs.append(
                    (
                        pid,
                        sum(v[1] for v in latest.values()),
                        sum(v[2] for v in latest.values()),
                    )
                )
            for resource, count in conn.execute(
                select(ProvisionStep.resource, func.count())
                .where(ProvisionStep.pilot_id == pid, ProvisionStep.status == "failed")
                .group_by(ProvisionStep.resource)
            ):
                reading.step_failures.append((pid, resource, count))
    reading.seconds = time.perf_counter() - started
    return reading


_PROMETHEUS_HEADERS = {
    # What Prometheus 2.x sends when it scrapes.
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


def _metrics_scrapes(port: int, n: int) -> tuple[list[float], int]:
    import urllib.request

    times, size = [], 0
    for _ in range(n):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers=_PROMETHEUS_HEADERS
        )
        t = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as reply:
            body = reply.read()
        times.append(time.perf_counter() - t)
        size = len(body)
    return times, size


def _metrics_serve(registry, *, stock: bool = False):  # type: ignore[no-untyped-def]
    """(server, thread) serving ``registry`` (or a body function): ours, or prometheus_client's own server."""
    import threading
    from wsgiref.simple_server import make_server

    from prometheus_client import start_http_server
    from prometheus_client.exposition import ThreadingWSGIServer

    from ngc_pilot import metrics_server

    if stock:
        return start_http_server(0, addr="127.0.0.1", registry=registry)
    app = metrics_server.metrics_app(registry)
    server = make_server(
        "127.0.0.1", 0, app, ThreadingWSGIServer, handler_class=metrics_server.QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _metrics_read_summed(engine):  # type: ignore[no-untyped-def]
    """Baseline reader: usage summed from every record on every scrape (no usage_total)."""
    from ngc_pilot import metrics as M

    started = time.perf_counter()
    with engine.connect() as conn, conn.begin():
        reading = M.Reading(
            capacity=conn.execute(M.capacity_query()).all(),
            tenants=conn.execute(M.tenants_query()).all(),
            usage=conn.execute(M.usage_summed_query()).all(),
            costs=conn.execute(M.costs_query()).all(),
            job_counts=conn.execute(M.job_counts_query()).all(),
            job_last=conn.execute(M.job_last_query()).all(),
            step_failures=conn.execute(M.step_failures_query()).all(),
        )
    reading.seconds = time.perf_counter() - started
    return reading


def _metrics_triggers(engine, on: bool) -> None:  # type: ignore[no-untyped-def]
    """Switch the usage rollups' triggers off or on; on again, the rollups are rebuilt."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                f"ALTER TABLE usage_record {'ENABLE' if on else 'DISABLE'} TRIGGER USER"
            )
        elif on:
            for (sql,) in conn.exec_driver_sql("SELECT sql FROM bench_triggers").all():
                conn.exec_driver_sql(sql)
            conn.exec_driver_sql("DROP TABLE bench_triggers")
        else:
            conn.exec_driver_sql(
                "CREATE TABLE bench_triggers AS SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = 'usage_record'"
            )
            for (name,) in conn.exec_driver_sql("SELECT name FROM bench_triggers").all():
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        if on:
            migration = _rollup_migration()
            conn.exec_driver_sql("DELETE FROM usage_day")
            conn.exec_driver_sql(
                migration._PG_BACKFILL
                if engine.dialect.name == "postgresql"
                else migration._SQLITE_BACKFILL
            )
            conn.exec_driver_sql("DELETE FROM usage_month")  # summed from the days
            months = _month_rollup_migration()
            conn.exec_driver_sql(
                months._PG_BACKFILL
                if engine.dialect.name == "postgresql"
                else months._SQLITE_BACKFILL
            )
            conn.exec_driver_sql("DELETE FROM usage_total")
            conn.exec_driver_sql(
                "INSERT INTO usage_total (pilot_id, metric, quantity) SELECT pilot_id, metric, "
                "sum(quantity) FROM usage_record GROUP BY pilot_id, metric"
            )


def _metrics_write_cost(engine, ids: list[str], start, hour: int) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    """Metering's upsert of one window for every tenant: a new window, then recomputed."""
    from ngc_pilot.db import session_scope
    from ngc_pilot.usage_upsert import upsert_records

    metrics = ("vcpu_hours", "ram_gb_hours", "disk_gb_hours", "volume_gb_hours", "gpu_hours")

    def window(h: int, quantity: str) -> list[dict[str, Any]]:
        ws = start + timedelta(hours=h)
        return [
            {
                "pilot_id": i,
                "metric": m,
                "window_start": ws,
                "window_end": ws + timedelta(hours=1),
                "quantity": Decimal(quantity),
                "source": "nova",
                "collected_at": ws + timedelta(hours=1),
            }
            for i in ids
            for m in metrics
        ]

    cpu: dict[int, float] = {}  # first window -> median CPU seconds of its new windows

    def upsert(rows: list[dict[str, Any]]) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()  # SQLite runs in this process
        with session_scope(engine) as session:
            upsert_records(session, rows)
        return time.perf_counter() - t, time.process_time() - c

    def new_and_again(first: int) -> tuple[float, float]:
        new = [upsert(window(first + k, "1.5")) for k in range(3)]
        again = [upsert(window(first + k, "2.5")) for k in range(3)]
        cpu[first] = statistics.median(c for _, c in new)
        cpu[-first] = statistics.median(c for _, c in again)
        return statistics.median(w for w, _ in new), statistics.median(w for w, _ in again)

    n = len(ids) * len(metrics)
    with_new, with_again = new_and_again(hour)
    rows: list[tuple[str, float, str]] = []
    note = "median of 3 windows"
    if engine.dialect.name == "sqlite":
        # The change stamps' triggers on usage_record (migration 0015) off, the
        # rollups' on: what the stamps cost the meter.
        with engine.begin() as conn:
            stamps = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'usage_record' AND name LIKE 'change_stamp_%'"
            ).all()
            for name, _ in stamps:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        try:
            plain_new, plain_again = new_and_again(hour + 6)
        finally:
            with engine.begin() as conn:
                for _, sql in stamps:
                    conn.exec_driver_sql(sql)
        rows = [
            (
                "  the same, change-stamp triggers off (rollups' on)",
                plain_new,
                f"{note}; CPU {cpu[hour + 6]:.2f} s against {cpu[hour]:.2f} s with them",
            ),
            (
                "  recomputed, change-stamp triggers off (rollups' on)",
                plain_again,
                f"{note}; CPU {cpu[-(hour + 6)]:.2f} s against {cpu[-hour]:.2f} s with them",
            ),
        ]
    _metrics_triggers(engine, on=False)
    try:
        without_new, without_again = new_and_again(hour + 3)
    finally:
        _metrics_triggers(engine, on=True)
    return [
        (f"meter's upsert of a new window ({n:,} records), with the triggers", with_new, note),
        *rows[:1],
        ("  the same, triggers off (baseline)", without_new, note),
        ("meter's upsert of that window recomputed, with the triggers", with_again, note),
        *rows[1:],
        ("  the same, triggers off (baseline)", without_again, note),
    ]


def _metrics_http(registry, scrapes: int, *, stock: bool = False) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    """Scrape times over HTTP (fewer scrapes when one takes seconds) and the body size."""
    server, thread = _metrics_serve(registry, stock=stock)
    try:
        warm, _ = _metrics_scrapes(server.server_port, 1)  # connection pool, caches
        return _metrics_scrapes(server.server_port, scrapes if warm[0] < 1 else 3)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _metrics_seed_window(engine, ids: list[str], hour: int) -> None:  # type: ignore[no-untyped-def]
    """Metering's upsert of one new window for every tenant (what a meter cycle writes)."""
    from ngc_pilot.db import session_scope
    from ngc_pilot.usage_upsert import upsert_records

    start = datetime(2021, 4, 15, tzinfo=UTC) + timedelta(hours=hour)
    metrics = ("vcpu_hours", "ram_gb_hours", "disk_gb_hours", "volume_gb_hours", "gpu_hours")
    with session_scope(engine) as session:
        upsert_records(
            session,
            [
                {
                    "pilot_id": i,
                    "metric": m,
                    "window_start": start,
                    "window_end": start + timedelta(hours=1),
                    "quantity": Decimal("1.5"),
                    "source": "nova",
                    "collected_at": start + timedelta(hours=1),
                }
                for i in ids
                for m in metrics
            ],
        )


def _metrics_measure(
    engine,
    policy,
    scrapes: int,
    baseline_scrapes: int,
    last: bool,
    ids: list[str],
    window_hour: int | None,
) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    from prometheus_client import CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

    from ngc_pilot import metrics as M
    from ngc_pilot.exposition import render

    def registry(reader=None):  # type: ignore[no-untyped-def]
        r = CollectorRegistry()
        r.register(M.PilotCollector(engine, policy, reader=reader))
        return r

    def timed(fn, n: int = 5) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    med = statistics.median
    rows: list[tuple[str, float, str]] = []
    from ngc_pilot.metrics_cache import ScrapeCache

    cache = ScrapeCache(engine, policy)
    cold = _timed(cache.body)[0]
    cpu = time.process_time()
    times, size = _metrics_http(cache.body, scrapes)
    cpu = time.process_time() - cpu
    rows.append(
        (
            "**ngc-pilot /metrics over HTTP** (nothing changed since the previous scrape)",
            med(times),
            f"median of {len(times)}, max {max(times) * 1000:.0f} ms, {size / 1e6:.2f} MB; "
            f"CPU {cpu * 1000 / (len(times) + 1):.0f} ms a scrape (server and client)",
        )
    )
    checks = []
    for _ in range(5):
        cache.body()
        checks.append((cache.last_reads, cache.last_seconds))
    rows.append(
        (
            "of which: fingerprint (SQLite: change stamps) check + global queries not cached",
            med(x for _, x in checks),
            f"median of 5; blocks re-read: {[n for n, _ in checks]}",
        )
    )
    rows.append(("first scrape of a new server (every block read and rendered)", cold, "once"))
    if engine.dialect.name == "sqlite":
        old = ScrapeCache(engine, policy)
        old.concatenate = True  # fingerprints: the rows concatenated, as before migration 0015
        old.body()
        cpu = time.process_time()
        times, _ = _metrics_http(old.body, scrapes)
        cpu = time.process_time() - cpu
        rows.append(
            (
                "baseline: the same cache fingerprinting by concatenated rows (before 0015), over HTTP",
                med(times),
                f"median of {len(times)}, max {max(times) * 1000:.0f} ms; "
                f"CPU {cpu * 1000 / (len(times) + 1):.0f} ms a scrape",
            )
        )
    if window_hour is not None:
        _metrics_seed_window(engine, ids, window_hour)
        after, _ = _timed(cache.body)
        rows.append(
            (
                "scrape right after a metering window was written",
                after,
                f"once; blocks re-read: {cache.last_reads} (usage, utilisation and their tenants)",
            )
        )
    reads = [M.read(engine) for _ in range(5)]
    rows.append(("registry path: the eleven queries", med(r.seconds for r in reads), "median of 5"))
    with engine.connect() as conn:
        usage = timed(lambda: conn.execute(M.usage_query()).all())
    rows.append(("of which: usage totals (usage_total)", usage, "median of 5"))
    fixed = registry(lambda _engine: reads[0])
    ours = timed(lambda: render(fixed.collect()))
    series = sum(1 for line in render(fixed.collect()).splitlines() if not line.startswith(b"#"))
    rows.append(("exposition: ngc_pilot.exposition", ours, f"{series:,} series"))
    theirs = timed(lambda: openmetrics_latest(fixed))
    rows.append(
        ("baseline exposition: prometheus_client (OpenMetrics)", theirs, "what its server sends")
    )
    if not last:
        return rows
    times, size = _metrics_http(registry(), scrapes)
    rows.append(
        (
            "previous ngc-pilot: every query and every series on every scrape, over HTTP",
            med(times),
            f"median of {len(times)}",
        )
    )
    if len(ids) <= 2000:  # 8 queries per tenant: minutes a scrape at 10,000
        times, _ = _metrics_http(registry(_metrics_per_tenant_read), baseline_scrapes)
        rows.append(
            ("baseline: per-tenant queries, over HTTP", med(times), f"median of {len(times)}")
        )
    times, size = _metrics_http(M.registry_for(engine, policy), scrapes, stock=True)
    rows.append(
        (
            "baseline: prometheus_client's server, over HTTP",
            med(times),
            f"OpenMetrics, gzip level 9 (Prometheus accepts gzip): {size / 1e6:.2f} MB sent",
        )
    )
    times, _ = _metrics_http(registry(_metrics_read_summed), scrapes)
    with engine.connect() as conn:
        summed = timed(lambda: conn.execute(M.usage_summed_query()).all(), 3)
    rows.append(
        (
            "baseline: summing every usage record per scrape, over HTTP",
            med(times),
            f"median of {len(times)}; the sums alone {summed * 1000:.0f} ms",
        )
    )
    return rows


def bench_metrics(
    tenants: int = 10000,
    history_hours: tuple[int, ...] = (0, 24, 168),
    scrapes: int = 15,
    baseline_scrapes: int = 3,
    backends: tuple[str, ...] = ("postgresql", "sqlite"),
) -> dict[str, Any]:
    """Time a ``/metrics`` scrape with ``tenants`` tenants at each usage history length."""
    import os
    import tempfile

    from support.pgserver import create_database, drop_database, server_url

    from ngc_pilot import migrate
    from ngc_pilot.db import make_engine
    from policies.tenancy import load_tenant_policy

    policy = load_tenant_policy()
    start = datetime(2021, 4, 15, tzinfo=UTC)
    out: dict[str, Any] = {}
    print(f"## metrics — /metrics with {tenants:,} tenants over HTTP, as Prometheus asks")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for backend in backends:
        admin = private = name = None
        tmp = tempfile.TemporaryDirectory(prefix="ngc-bench-metrics-")
        if backend == "postgresql":
            admin, private = server_url()
            name = f"ngc_bench_metrics_{uuid.uuid4().hex[:8]}"
            url = create_database(admin, name)
        else:
            url = f"sqlite:///{tmp.name}/bench.db"
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            t = time.perf_counter()
            ids = _metrics_seed_tenants(engine, tenants, start)
            print(
                f"### {backend} (tenants, invoices, step ledger loaded in {time.perf_counter() - t:.1f} s)"
            )
            print("| usage history | what | ms | note |")
            print("|---|---|---:|---|")
            done = 0
            for hours in history_hours:
                t = time.perf_counter()
                _metrics_triggers(engine, on=False)  # bulk load, then the rollups rebuilt
                _metrics_seed_history(engine, ids, start, done, hours)
                _metrics_triggers(engine, on=True)
                loaded = time.perf_counter() - t
                done = hours
                history = f"{hours} h: {tenants * 5 * hours:,} records (+{loaded:.0f} s load)"
                last = hours == history_hours[-1]
                rows = _metrics_measure(
                    engine, policy, scrapes, baseline_scrapes, last, ids, hours if last else None
                )
                if last:
                    rows += _metrics_write_cost(engine, ids, start, hours + 1)
                out[f"{backend}/{hours}h"] = {label.strip(): seconds for label, seconds, _ in rows}
                for label, seconds, note in rows:
                    print(f"| {history} | {label} | {seconds * 1000:.1f} | {note} |")
                    history = ""
        finally:
            engine.dispose()
            if name is not None:
                drop_database(admin, name)
            if private is not None:
                private.stop()
            tmp.cleanup()
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for key, numbers in out.items():
        scrape = next(v for k, v in numbers.items() if "ngc-pilot /metrics" in k)
        verdict = "met" if scrape <= 0.050 else "NOT met"
        print(f"goal: /metrics <= 50 ms, {key}: {scrape * 1000:.0f} ms — {verdict}")
    return out


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sections", nargs="*", help="invoices, cycle, metrics (default: all of them)"
    )
    parser.add_argument("--tenants", type=count(), default=1000, help="invoices: tenants to load")
    parser.add_argument(
        "--metrics",
        type=listing(one_of(ALL_METRICS)),
        default=list(ALL_METRICS),
        help="invoices: metrics to load (default: all five; GPU-hours for every tenth tenant)",
    )
    parser.add_argument(
        "--year",
        type=count(2021, 2100),
        default=2021,
        help="invoices: the first year of usage (from 2021, when the price list starts)",
    )
    parser.add_argument(
        "--years",
        type=count(1, 10),
        default=1,
        help="invoices: years of history, 1 to 10 (the last one is rated)",
    )
    parser.add_argument(
        "--repeat", type=count(), default=1, help="invoices: runs of the repeated timings (median)"
    )
    parser.add_argument(
        "--reuse-db",
        metavar="NAME",
        type=bench_database,
        help="invoices: keep the loaded database under NAME and reuse it next time",
    )
    parser.add_argument(
        "--metrics-tenants", type=count(), default=10000, help="metrics: tenants (default 10,000)"
    )
    parser.add_argument(
        "--metrics-hours",
        type=listing(count(0), ascending=True),
        default=[0, 24, 168],
        help="metrics: hours of usage history measured at, ascending (default 0,24,168)",
    )
    parser.add_argument(
        "--metrics-backends",
        type=listing(one_of(("postgresql", "sqlite"))),
        default=["postgresql", "sqlite"],
        help="metrics: databases (postgresql, sqlite; default both)",
    )
    args = parser.parse_args(argv)
    sections = args.sections or ["invoices", "cycle", "metrics"]
    unknown = [s for s in sections if s not in ("invoices", "cycle", "metrics")]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; allowed: invoices, cycle, metrics")
    for section in sections:
        if section == "invoices":
            bench_invoices(
                tenants=args.tenants,
                metrics=tuple(args.metrics),
                year=args.year,
                reuse_db=args.reuse_db,
                repeat=args.repeat,
                years=args.years,
            )
            continue
        if section == "metrics":
            bench_metrics(
                tenants=args.metrics_tenants,
                history_hours=tuple(args.metrics_hours),
                backends=tuple(args.metrics_backends),
            )
            continue
        fn = globals().get(f"bench_{section}")
        if fn is None:
            print(f"## {section} — not available: bench_{section}() is not defined yet")
            continue
        fn()


if __name__ == "__main__":
    main()
