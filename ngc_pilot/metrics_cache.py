"""``/metrics`` for thousands of tenants: per-tenant blocks rendered once, reused while unchanged.

Why this exists: with 10,000 tenants a scrape carries some 120,000 series.
Reading them (eleven queries) and rendering them in Python takes several
hundred milliseconds, far over the 50 ms issue 14 allows, although between
two scrapes (seconds apart) almost nothing changes: tenant states, quotas and
invoices change a few times a day, usage once per metering window.

:class:`ScrapeCache` splits a scrape into the per-tenant blocks (states,
expiry and quotas; usage counters; costs; provisioning failures; utilisation)
and the small global families (capacity, jobs, evaluation areas, change
requests, outbox), which are read and rendered afresh every time.  Each block
is kept as rendered bytes together with a *fingerprint* of exactly the rows
it was rendered from, read in the database by one query at the start of every
scrape, in the scrape's transaction:

* on SQLite, the *change stamps* (migration 0015,
  :mod:`ngc_pilot.change_stamp_models`): integers that row triggers bump in
  the same transaction as every write to the tables a block reads (tenants,
  namespace tenants and pilots; usage records, whose triggers also keep the
  usage totals; invoices; the provisioning ledger), plus the highest usage
  record id (an ordinary insert appends and bumps nothing: a metering window
  is 50,000 rows).  One query of a dozen rows instead of concatenating some
  100,000 rows each scrape.  The global families (capacity, jobs, evaluation
  areas, change requests, outbox) have stamps too, so their query results are
  reused while unchanged; what depends on the clock (the oldest pending
  request's age) is still computed from those rows at every scrape.  The old
  way, the rows themselves concatenated in SQL (:func:`fingerprints_query`),
  is kept for the benchmark's baseline (``concatenate``);
* on PostgreSQL, tenants, pilots, usage totals and invoices: their row counts
  and whether any row was written by a transaction that the previous scrape's
  snapshot did not see — one that had not started (``xmin`` >= the
  snapshot's ``xmax``) or was still running (``xmin`` in its ``xip`` list), so
  a transaction that commits after a scrape it overlapped is still seen.
  Limitation: a row written inside a *subtransaction* (a savepoint, a
  PL/pgSQL exception block) of a transaction that overlapped the previous
  scrape carries the subtransaction's id, which the ``xip`` list does not
  name; ngc-pilot writes these tables without savepoints, and the block is
  re-read at its next change or by a new server.  The provisioning ledger is
  append-only (a step's status is a new row): its row count and highest id.
  The latest metered window: its start and size, and the usage totals' flag —
  every write to ``usage_record`` rewrites its tenants' ``usage_total`` rows
  (migration 0003's triggers).  PostgreSQL reads the global families every
  scrape (no triggers there: they would cost every write).

A block whose fingerprint differs is read with its usual query and rendered
again by the same functions as :class:`ngc_pilot.metrics.PilotCollector`, so
the body is byte for byte what :func:`ngc_pilot.exposition.render` makes of
the collector's families read in the same transaction (a test checks it after
every kind of change).  Nothing is ever stale: there is no time-to-live, and
a scrape never serves a block whose rows differ from what the database holds
in its snapshot.

What it deliberately does not do: cache anything across processes or in the
database (each ``serve`` replica keeps its own), watch for changes between
scrapes, or compress (see :func:`ngc_pilot.metrics_server.metrics_app`).  The
registry path (:func:`ngc_pilot.metrics.registry_for`, ``generate_latest``,
the tests' ``get_sample_value``) is unchanged and reads everything every time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric
from sqlalchemy import Engine, String, cast, func, literal, select, union_all
from sqlalchemy.exc import SQLAlchemyError

from ngc_pilot import metrics as M
from ngc_pilot.change_stamp_models import ChangeStamp
from ngc_pilot.exposition import render
from ngc_pilot.metrics_utilisation import (
    area_families,
    areas_query,
    latest_usage_query,
    utilisation_family,
)
from ngc_pilot.metrics_workflow import (
    outbox_families,
    outbox_query,
    request_families,
    requests_query,
)
from ngc_pilot.models import Invoice, ProvisionStep, UsageRecord
from policies.tenancy import TenantPolicy

log = logging.getLogger(__name__)

_FIELD = "\x1f"  # ASCII unit separator
_ROW = "\x1e"  # ASCII record separator


def rows_fingerprint(query: Any) -> Any:
    """A scalar subquery: every row of ``query`` as one text (NULL when there are none)."""
    sub = query.subquery()
    fields = [func.coalesce(literal("v") + cast(c, String), literal("n")) for c in sub.c]
    row = fields[0]
    for f in fields[1:]:
        row = row + literal(_FIELD) + f
    return select(func.aggregate_strings(row, _ROW)).select_from(sub).scalar_subquery()


def ledger_fingerprint(model: Any) -> Any:
    """A scalar subquery for an append-only table: its row count and highest id, as text."""
    return (
        select(cast(func.count(), String) + literal(_FIELD) + cast(func.max(model.id), String))
        .select_from(model)
        .scalar_subquery()
    )


def fingerprints_query() -> Any:
    """One row: each block's input as its rows, concatenated (the way before change
    stamps, kept for the benchmark's baseline)."""
    return select(
        rows_fingerprint(M.tenants_query()).label("tenants"),
        rows_fingerprint(M.usage_query()).label("usage"),
        ledger_fingerprint(Invoice).label("invoices"),
        ledger_fingerprint(ProvisionStep).label("steps"),
        rows_fingerprint(latest_usage_query()).label("latest"),
    )


def stamps_query() -> Any:
    """SQLite: every change stamp, and the highest usage record id (see migration 0015)."""
    return union_all(
        select(ChangeStamp.name, ChangeStamp.stamp),
        select(literal("usage_top"), func.max(UsageRecord.id)),
    )


# Global families whose query results are reused while their stamp is unchanged
# (SQLite): stamp name -> (Reading attribute, query).  Ages ("oldest pending
# request") are computed from the rows at scrape time, never cached.
GLOBALS: dict[str, tuple[str, Callable[[], Any]]] = {
    "capacity": ("capacity", M.capacity_query),
    "jobs": ("job_counts", M.job_counts_query),
    "jobs_last": ("job_last", M.job_last_query),
    "areas": ("areas", areas_query),
    "requests": ("requests", requests_query),
    "outbox": ("outbox", outbox_query),
}


# PostgreSQL: a row is new since the previous scrape's snapshot when the
# transaction that wrote this version of it (its xmin) had not started by then
# (xmin >= the snapshot's xmax) or was still running (xmin in its xip list).
# age() counts back from one fixed point for the whole transaction and compares
# transaction ids the way PostgreSQL does (modulo 2**32); an ancient id only
# ever looks new, which costs a re-read, never a stale block.
_NEW = (
    "(age(t.xmin) <= age(CAST(CAST(%(xmax)s AS text) AS xid))"
    " OR t.xmin = ANY(CAST(%(xip)s AS xid[])))"
)


def _pg_table(table: str, where: str = "") -> str:
    return f"(SELECT count(*)::text || ':' || coalesce(bool_or({_NEW}), false)::text FROM {table} t {where})"


_PG_FINGERPRINTS = f"""
SELECT
  {_pg_table("tenant")} || ' ' || {_pg_table("kube_tenant")} || ' ' || {_pg_table("pilot")} AS tenants,
  {_pg_table("usage_total")} AS usage,
  {_pg_table("invoice")} AS invoices,
  (SELECT count(*)::text || ':' || coalesce(max(id), 0)::text FROM provision_step) AS steps,
  (SELECT max(window_start)::text || ' ' || count(*)::text FROM usage_record
    WHERE window_start = (SELECT max(window_start) FROM usage_record)) AS latest,
  pg_snapshot_xmax(pg_current_snapshot())::text::bigint %% 4294967296 AS snapshot_xmax,
  ARRAY(SELECT (x::text::bigint %% 4294967296)::text FROM pg_snapshot_xip(pg_current_snapshot()) x)
    AS snapshot_xip
"""


_BLOCKS = ("tenants", "usage", "invoices", "steps", "latest")


@dataclass
class _Block:
    fingerprint: Any
    body: bytes


class ScrapeCache:
    """Renders ``/metrics`` bodies, reusing per-tenant blocks whose rows are unchanged.

    Thread-safe: scrapes are served one at a time (a second waits for the first
    and then usually finds everything cached).
    """

    def __init__(self, engine: Engine, tenant_policy: TenantPolicy):
        self.engine = engine
        self.tenant_policy = tenant_policy
        self._blocks: dict[str, _Block] = {}
        # SQLite: global families' rows with the stamp they were read at.
        self._globals: dict[str, tuple[Any, list[Any]]] = {}
        # SQLite: fingerprint by concatenating rows (the way before migration 0015;
        # the benchmark's baseline) instead of reading the change stamps.
        self.concatenate = False
        self._lock = threading.Lock()
        self.last_reads = 0  # blocks read and rendered again by the latest scrape
        self.last_global_reads = 0  # global families' queries run by the latest scrape
        self.last_seconds = 0.0  # the latest scrape's database time
        # PostgreSQL: the previous scrape's snapshot (xmax, running transactions).
        self._since: tuple[int, list[str]] | None = None
        self._next_since: tuple[int, list[str]] | None = None

    def body(self) -> bytes:
        with self._lock:
            try:
                return self._body()
            except SQLAlchemyError as exc:
                # The type only: a driver's message may quote connection parameters.
                log.warning("metrics: reading the database failed (%s)", type(exc).__name__)
                self._blocks.clear()
                self._globals.clear()
                self._since = None
                up = M.gauge(
                    "ngc_pilot_database_up", "1 if this scrape could read the database, 0 if not."
                )
                up.add_metric([], 0.0)
                return render([up])

    def _fingerprints(self, conn: Any) -> tuple[dict[str, Any], set[str]]:
        """Each block's fingerprint, and the blocks with rows written since the last scrape."""
        if conn.dialect.name != "postgresql":
            if self.concatenate:
                return dict(conn.execute(fingerprints_query()).one()._asdict()), set()
            stamps = {name: stamp for name, stamp in conn.execute(stamps_query())}
            top = stamps.pop("usage_top", None)
            usage = (stamps.pop("usage"), top) if "usage" in stamps else None
            # The latest window is read from usage_record, as the usage totals are
            # kept from it (0003's triggers): one stamp for both.
            prints = {**stamps, "usage": usage, "latest": usage}
            # A stamp row gone missing (never by ngc-pilot): its block is read every time.
            return prints, {name for name in _BLOCKS if prints.get(name) is None}
        # Rows written by transactions that were running at the previous scrape, or
        # began after it, count as written; the first scrape reads everything anyway
        # (so its bounds, 3 and none running, mean nothing).
        xmax, xip = self._since if self._since is not None else (3, [])
        # Small scans: parallel workers cost more to start than they save.
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        row = conn.exec_driver_sql(_PG_FINGERPRINTS, {"xmax": xmax, "xip": xip}).one()._asdict()
        self._next_since = (row.pop("snapshot_xmax"), row.pop("snapshot_xip"))
        written = {name for name, value in row.items() if value and ":true" in value}
        if "usage" in written:
            # Every write to usage_record rewrites the usage_total rows of its tenants
            # and metrics (migration 0003's triggers), so the latest window's rows
            # need no scan of their own: its start, its size and this flag suffice.
            written.add("latest")
        prints = {
            name: value.replace(":true", "").replace(":false", "") if value else value
            for name, value in row.items()
        }
        return prints, written

    def _body(self) -> bytes:
        started = time.perf_counter()
        reading = M.Reading()
        fresh: dict[str, Any] = {}
        with self.engine.connect() as conn, conn.begin():
            prints, written = self._fingerprints(conn)
            stale = written | {
                name
                for name, value in prints.items()
                if name in _BLOCKS
                and (name not in self._blocks or self._blocks[name].fingerprint != value)
            }
            if "tenants" in stale:
                stale.add("latest")  # utilisation depends on the tenants' states and sizes
            if "latest" in stale:
                stale.add("tenants")  # ... and is built from the tenants' rows
            self.last_global_reads = 0
            for name, (attribute, query) in GLOBALS.items():
                # No stamp (PostgreSQL, or a stamp row gone missing): read every scrape.
                stamp = prints.get(name.removesuffix("_last"))
                cached = self._globals.get(name)
                if stamp is None or cached is None or cached[0] != stamp:
                    rows = conn.execute(query()).all()
                    self.last_global_reads += 1
                    if stamp is not None:
                        self._globals[name] = (stamp, rows)
                else:
                    rows = cached[1]
                setattr(reading, attribute, rows)
            if "tenants" in stale:
                reading.tenants = conn.execute(M.tenants_query()).all()
            if "usage" in stale:
                reading.usage = conn.execute(M.usage_query()).all()
            if "invoices" in stale:
                reading.costs = conn.execute(M.costs_query()).all()
            if "steps" in stale:
                reading.step_failures = conn.execute(M.step_failures_query()).all()
            if "latest" in stale:
                reading.latest_usage = conn.execute(latest_usage_query()).all()
        reading.seconds = self.last_seconds = time.perf_counter() - started
        policy = self.tenant_policy
        builders: dict[str, Callable[[], Iterable[Metric]]] = {
            "tenants": lambda: M.tenant_families(reading, policy),
            "usage": lambda: M.usage_families(reading),
            "invoices": lambda: M.cost_families(reading),
            "steps": lambda: M.provisioning_families(reading),
            "latest": lambda: [
                utilisation_family(
                    [(p, s, z, e) for p, plat, s, z, e in reading.tenants if plat == "openstack"],
                    reading.latest_usage,
                    policy,
                )
            ],
        }
        for name in stale:
            fresh[name] = _Block(prints.get(name), render(builders[name]()))
        self._blocks.update(fresh)
        self._since = self._next_since
        self.last_reads = len(stale)
        up = M.gauge("ngc_pilot_database_up", "1 if this scrape could read the database, 0 if not.")
        up.add_metric([], 1.0)
        seconds = M.gauge(
            "ngc_pilot_metrics_query_duration_seconds",
            "How long this scrape's database queries took.",
        )
        seconds.add_metric([], reading.seconds)
        block = self._blocks
        return b"".join(
            [
                render([up, seconds, *M.capacity_families(reading)]),
                block["tenants"].body,
                block["usage"].body,
                block["invoices"].body,
                render(M.job_families(reading)),
                block["steps"].body,
                block["latest"].body,
                render(
                    [
                        *area_families(reading.areas),
                        *request_families(reading.requests, reading.read_at),
                        *outbox_families(reading.outbox),
                    ]
                ),
            ]
        )
