"""Benchmarks of metering, billing and metrics (a script that prints numbers, not a test).

Sections — run all, or name some:

    python bench/metering.py [invoices] [cycle] [metrics] [--tenants 1000] ...

* ``invoices`` (here): shadow invoices for 1,000 tenants x one year of hourly
  usage on PostgreSQL.  Goal: all tenants, all 12 months in <= 5 s.
* ``cycle``: a metering cycle (``bench_cycle()``, added by the metering part).
* ``metrics``: a ``/metrics`` scrape (``bench_metrics()``, added by the metrics part).

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


def _load(url: str, tenants: int, metrics: tuple[str, ...], year: int) -> tuple[int, float]:
    """Create the pilots and tenants and COPY a year of hourly usage; (records, seconds)."""
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
        hours = (datetime(year + 1, 1, 1, tzinfo=UTC) - start) // timedelta(hours=1)
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
    return records, time.perf_counter() - started


def _rowwise(url: str, plan: list[tuple[Any, list[Any]]]) -> dict[tuple[str, str], dict]:
    """Baseline: the aggregation of ``billing.aggregate`` done row by row in Python."""
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


def _rollup_prototype(
    url: str, plan: list[tuple[Any, list[Any]]], expected: dict[tuple[str, str], dict]
) -> tuple[float, float]:
    """What a daily rollup table would give (measured, not shipped): (build s, 12 months s).

    Price and discount boundaries fall on midnight, so per-day sums are enough
    to rate any month.  Built here in the scratch database only; shipping it
    means a table in the schema kept up to date on every usage write.
    """
    import psycopg
    from support.pgserver import _conninfo

    from policies.rating import PRICED_METRICS

    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("DROP TABLE IF EXISTS bench_usage_daily")
        conn.execute("SET work_mem = '256MB'")
        conn.execute(
            "CREATE TABLE bench_usage_daily AS SELECT pilot_id, metric,"
            " (window_start AT TIME ZONE 'UTC')::date AS day, sum(quantity) AS quantity"
            " FROM usage_record GROUP BY 1, 2, 3"
        )
        conn.execute("CREATE INDEX ON bench_usage_daily (day)")
        conn.execute("ANALYZE bench_usage_daily")
        build = time.perf_counter() - started
        got: dict[tuple[str, str], dict] = defaultdict(dict)
        started = time.perf_counter()
        conn.execute("SET work_mem = '64MB'")
        for month, segs in plan:
            starts = sorted(((seg.period_from, seg.index) for seg in segs), reverse=True)
            case = " ".join(f"WHEN day >= '{d}' THEN {i}" for d, i in starts)
            for pilot_id, metric, index, total in conn.execute(
                f"SELECT pilot_id, metric, CASE {case} ELSE -1 END AS segment, sum(quantity)"
                " FROM bench_usage_daily WHERE day >= %s AND day < %s AND metric = ANY(%s)"
                " GROUP BY 1, 2, 3",
                (month.start, month.until, list(PRICED_METRICS)),
            ):
                got[(pilot_id, str(month))][(metric, index)] = total
        seconds = time.perf_counter() - started
    if dict(got) != expected:
        raise AssertionError("the rollup prototype's sums differ from billing.aggregate's")
    return build, seconds


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
) -> dict[str, Any]:
    import psycopg
    from sqlmodel import Session
    from support.pgserver import _conninfo, create_database, drop_database, server_url

    from ngc_pilot import billing
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
            records, seconds = _load(url, tenants, metrics, year)
            out["load_seconds"] = seconds
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
            f"{tenants:,} tenants x {year} hourly: {records:,} usage records ({size} with indexes)"
            + (f", loaded in {out['load_seconds']:.0f} s" if "load_seconds" in out else ", reused")
        )
        load_before = os.getloadavg()
        engine = make_engine(url)
        prices = load_prices()
        months = [f"{year}-{m:02d}" for m in range(1, 13)]

        def rate_each() -> list[float]:
            times = []
            for m in months:
                t, _ = _timed(lambda m=m: billing.rate_month(engine, prices, m, actor="bench"))
                times.append(t)
            return times

        first = rate_each()
        with psycopg.connect(_conninfo(url)) as conn:
            invoices = conn.execute("SELECT count(*) FROM invoice").fetchone()[0]
            lines = conn.execute("SELECT count(*) FROM invoice_line").fetchone()[0]
        unchanged = [sum(rate_each()) for _ in range(repeat)]
        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            conn.execute("TRUNCATE invoice_line, invoice, audit_event")
        one_call, _ = _timed(lambda: billing.rate_months(engine, prices, months, actor="bench"))

        plan = [(Month.parse(m), billing._segments(prices, Month.parse(m))) for m in months]
        with Session(engine) as session:
            monthly = []
            for _ in range(repeat):
                monthly.append(
                    sum(_timed(lambda p=p: billing.aggregate(session, [p]))[0] for p in plan)
                )
            yearly = []
            for _ in range(repeat):
                t, sql_sums = _timed(lambda: billing.aggregate(session, plan))
                yearly.append(t)
        baseline, row_sums = _timed(lambda: _rowwise(url, plan))
        same = row_sums == sql_sums
        engine.dispose()
        rollup_build, rollup = _rollup_prototype(url, plan, sql_sums)
        load_after = os.getloadavg()

        med = statistics.median
        rows = [
            ("rate_month x 12, empty tables (writes every invoice) — the goal", sum(first)),
            (f"rate_month x 12, nothing changed (median of {repeat})", med(unchanged)),
            ("rate_months, all 12 months in one call (writes every invoice)", one_call),
            (f"SQL aggregation only, 12 monthly queries (median of {repeat})", med(monthly)),
            (f"SQL aggregation only, one query for the year (median of {repeat})", med(yearly)),
            ("baseline: the same aggregation row by row in Python, streamed cursor", baseline),
            (
                "prototype, NOT in ngc-pilot: the 12 monthly aggregations from a daily rollup"
                f" table (built once in {rollup_build:.0f} s)",
                rollup,
            ),
        ]
        overhead = sum(first) - med(monthly)
        print(f"{invoices:,} invoices with {lines:,} lines for {len(months)} months")
        print("| what | seconds |")
        print("|---|---:|")
        for label, seconds in rows:
            print(f"| {label} | {seconds:.2f} |")
        print(
            f"slowest month {max(first):.2f} s, fastest {min(first):.2f} s; "
            f"SQL vs baseline aggregation: {baseline / med(yearly):.1f}x faster; "
            f"sums identical: {'yes' if same else 'NO'}"
        )
        goal = sum(first)
        verdict = "met" if goal <= 5.0 else "NOT met"
        print(
            f"goal: shadow invoices for all tenants, all 12 months <= 5 s: {goal:.2f} s — {verdict}"
        )
        print(
            f"of which SQL aggregation {med(monthly):.2f} s and rating + reading + writing "
            f"{overhead:.2f} s; with a daily rollup that would be about {overhead + rollup:.2f} s "
            "(estimate: rollup aggregation + the measured rest)"
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
            rollup_prototype=rollup,
            load=(load_before, load_after),
        )
        return out
    finally:
        if reuse_db is None:
            drop_database(admin, name)
        if private is not None:
            private.stop()


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sections", nargs="*", help="invoices, cycle, metrics (default: all of them)"
    )
    parser.add_argument("--tenants", type=int, default=1000, help="invoices: tenants to load")
    parser.add_argument(
        "--metrics",
        default=",".join(ALL_METRICS),
        help="invoices: metrics to load (default: all five; GPU-hours for every tenth tenant)",
    )
    parser.add_argument("--year", type=int, default=2021, help="invoices: the year of usage")
    parser.add_argument(
        "--repeat", type=int, default=1, help="invoices: runs of the repeated timings (median)"
    )
    parser.add_argument(
        "--reuse-db",
        metavar="NAME",
        help="invoices: keep the loaded database under NAME and reuse it next time",
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
                metrics=tuple(m for m in args.metrics.split(",") if m),
                year=args.year,
                reuse_db=args.reuse_db,
                repeat=args.repeat,
            )
            continue
        fn = globals().get(f"bench_{section}")
        if fn is None:
            print(f"## {section} — not available: bench_{section}() is not defined yet")
            continue
        fn()


if __name__ == "__main__":
    main()
