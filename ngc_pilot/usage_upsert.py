"""Upsert usage records so that the rollups' triggers fire once per batch, not per row.

``usage_record`` feeds three rollups (``usage_total``, ``usage_day``,
``usage_month``; migrations 0003, 0011, 0016).  On PostgreSQL they are kept
by *statement* triggers that aggregate the statement's transition table, so
their cost is one aggregate per statement.  An ``executemany`` of one
``INSERT … ON CONFLICT`` is not one statement: psycopg sends one per
parameter set, and every trigger then fired once per record — for a window
of 50,000 records three times 50,000 tiny aggregates, which tripled the
meter's write (measured in ``bench/metering.py metrics``).  Here each batch
is one statement over ``unnest`` of one array per column.  A key may appear
only once in an ``ON CONFLICT DO UPDATE`` statement, so a key met again
starts a new batch: the outcome is that of the rows upserted one by one, in
order.  On SQLite the triggers are row triggers and the ``executemany`` stays.

The rule a recompute follows (a source blind to deleted resources is never
lowered, ``provisioner.usage.BLIND_TO_DELETED``) is in the statement, so it
holds against a row a concurrent cycle wrote since it was read.  Not here:
which rows to write (``ngc_pilot.metering.store_records``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from ngc_pilot.errors import PermanentError
from ngc_pilot.models import UsageRecord
from provisioner.usage import BLIND_TO_DELETED

COLUMNS = ("pilot_id", "metric", "window_start", "window_end", "quantity", "source", "collected_at")
KEY = ("pilot_id", "metric", "window_start")
BATCH = 5000  # records per statement (PostgreSQL) or per execute() (SQLite)


def upsert_records(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the records, or overwrite the stored ones with the same key."""
    if not rows:
        return
    insert = dialect_insert(session)
    if session.get_bind().dialect.name == "postgresql":
        statement = _unnest_statement(insert)
        for batch in batches(rows, BATCH):
            session.execute(statement, {name: [row[name] for row in batch] for name in COLUMNS})
    else:
        statement = _on_conflict(insert(UsageRecord.__table__))
        for start in range(0, len(rows), BATCH):
            session.execute(statement, list(rows[start : start + BATCH]))


def dialect_insert(session: Session) -> Any:
    """The session's dialect's ``insert`` (the one with ``ON CONFLICT``); metering needs one."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise PermanentError(f"metering needs PostgreSQL or SQLite, not {dialect}")
    return insert


def batches(rows: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive runs of at most *size* rows in which no key appears twice."""
    batch: list[dict[str, Any]] = []
    keys: set[tuple[Any, ...]] = set()
    for row in rows:
        key = tuple(row[name] for name in KEY)
        if key in keys or len(batch) == size:
            yield batch
            batch, keys = [], set()
        batch.append(row)
        keys.add(key)
    if batch:
        yield batch


def _on_conflict(statement: Any) -> Any:
    table = UsageRecord.__table__
    new = statement.excluded
    blind = or_(*(table.c.source == source for source in sorted(BLIND_TO_DELETED)))
    keep = blind & (table.c.quantity > new.quantity)
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "quantity": case((keep, table.c.quantity), else_=new.quantity),
            "window_end": new.window_end,
            "source": new.source,
            "collected_at": new.collected_at,
        },
    )


def _unnest_statement(insert: Any) -> Any:
    from sqlalchemy.dialects.postgresql import ARRAY

    table = UsageRecord.__table__
    arrays = [bindparam(name, type_=ARRAY(table.c[name].type)) for name in COLUMNS]
    incoming = func.unnest(*arrays).table_valued(*COLUMNS).render_derived(name="incoming")
    rows = select(*(incoming.c[name] for name in COLUMNS))
    return _on_conflict(insert(table).from_select(list(COLUMNS), rows))
