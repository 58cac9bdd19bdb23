"""Bulk inserts: thousands of rows in one round trip on SQLite and PostgreSQL.

Why this exists: a month's rating writes up to thousands of invoice lines and
audit events; an INSERT per row (or psycopg parsing one huge multi-row
INSERT) takes seconds where PostgreSQL's ``COPY ... FROM STDIN`` takes
milliseconds.  :func:`insert_rows` picks ``COPY`` on PostgreSQL and
``executemany`` elsewhere, inside the session's transaction.

``COPY`` is fed text lines built here (:func:`copy_text`) rather than row by
row through psycopg's per-value adaptation, which cost about as much as the
server's work for a month's 50,000 rows (profiled).  Only the types the
callers write are spelled (str, int, bool, Decimal, date, datetime, None, and
dicts/lists for JSON columns); anything else is refused, not guessed.

Several tables written one after the other (a month's invoices, their lines,
their audit events) can go through :func:`copy_stream`: a writer thread feeds
PostgreSQL while the caller builds the next table's rows, so the client's work
and the server's inserts overlap instead of taking turns.

It deliberately validates nothing: callers insert rows they built themselves,
or go through a validating front door such as :func:`ngc_pilot.audit.record_many`.
"""

from __future__ import annotations

import gc
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlmodel import Session


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk build, restoring it afterwards.

    Building thousands of rows allocates containers that are all alive until
    written, so every collection the allocations trigger finds nothing to
    free; for a year's invoices they were a fifth of the client's CPU
    (measured).  Reference counting still frees what it always frees; cycles
    made inside the block wait for the next collection after it.  Nested use
    leaves the collector as the outer block set it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``; ids are not read back."""
    if not rows:
        return
    if is_postgres(session):
        copy_rows(session, table, rows)
    else:
        session.execute(insert(table), list(rows))


def copy_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN`` of ``rows`` inside the session's transaction.

    The text goes in chunks of :data:`_CHUNK_ROWS` rows, each sent as soon as
    it is built, so the server inserts one chunk while the next is spelled.
    """
    if not rows:
        return
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(copy_statement(table, rows)) as copy:
        for chunk in copy_chunks(table, rows):
            copy.write(chunk)


_CHUNK_ROWS = 500


def copy_statement(table: Table, rows: Sequence[dict[str, Any]]) -> str:
    """The ``COPY … FROM STDIN`` for ``rows``' columns (the first row's keys, in order)."""
    names = ", ".join(f'"{c}"' for c in rows[0])
    return f'COPY "{table.name}" ({names}) FROM STDIN'


def copy_chunks(table: Table, rows: Sequence[dict[str, Any]]) -> Iterator[str]:
    """``rows``' COPY text, :data:`_CHUNK_ROWS` rows at a time, each built when asked for."""
    columns = list(rows[0])
    for start in range(0, len(rows), _CHUNK_ROWS):
        yield copy_text(table, rows[start : start + _CHUNK_ROWS], columns)


Send = Callable[[Table, Sequence[dict[str, Any]]], None]


@contextmanager
def copy_stream(session: Session) -> Iterator[Send]:
    """``send(table, rows)`` for several tables in order, written as :func:`insert_rows` does.

    On PostgreSQL each ``send`` spells its rows' COPY text in the calling
    thread and queues it; one writer thread runs the COPYs in the order sent,
    on the session's connection, so the server inserts while the caller builds
    the next rows.  Leaving the block waits for the writer and raises what it
    raised; an exception inside the block makes the writer abandon its COPY
    (the transaction is then the caller's to roll back).  The caller must not
    use the session inside the block.  Elsewhere ``send`` is :func:`insert_rows`.
    """
    if not is_postgres(session):
        yield lambda table, rows: insert_rows(session, table, rows)
        return
    raw = session.connection().connection.driver_connection
    work: queue.SimpleQueue[Any] = queue.SimpleQueue()
    failed: list[BaseException] = []
    writer = threading.Thread(target=_write_copies, args=(raw, work, failed), daemon=True)
    writer.start()

    def send(table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows or failed:
            return
        work.put(copy_statement(table, rows))
        for chunk in copy_chunks(table, rows):
            work.put(chunk.encode())
            if failed:
                return

    try:
        yield send
    except BaseException:
        work.put(_ABANDON)
        raise
    finally:
        work.put(_DONE)
        writer.join()
    if failed:
        raise failed[0]


_DONE, _ABANDON = object(), object()


class _Abandoned(Exception):
    """The caller failed while building rows: the open COPY is cancelled."""


def _write_copies(raw: Any, work: queue.SimpleQueue[Any], failed: list[BaseException]) -> None:
    """The writer thread: COPY statements (str) each followed by their text chunks (bytes)."""
    item = work.get()
    try:
        with raw.cursor() as cursor:
            while item is not _DONE and item is not _ABANDON:
                with cursor.copy(item) as copy:
                    item = work.get()
                    while isinstance(item, bytes):
                        copy.write(item)
                        item = work.get()
                    if item is _ABANDON:
                        raise _Abandoned
    except _Abandoned:
        pass
    except BaseException as exc:  # handed to the caller's thread
        failed.append(exc)
        while item is not _DONE:  # let the caller finish queueing
            item = work.get()


def copy_text(table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` in COPY's text format (tab-separated, ``\\N`` for NULL, one line per row).

    Spelled column by column: a column whose values are all of one type goes
    through that type's spelling in one ``map``; a JSON column's value is
    ``json.dumps``-ed once per distinct object (a month's invoices share one
    price record).
    """
    if not rows:
        return ""
    json_columns = {c.name for c in table.c if isinstance(c.type, JSON)}
    spelled = [
        _json_column([row[c] for row in rows])
        if c in json_columns
        else _column([row[c] for row in rows])
        for c in columns
    ]
    return "\n".join(map("\t".join, zip(*spelled, strict=True))) + "\n"


def _json_column(values: list[Any]) -> list[str]:
    dumped: dict[int, str] = {}  # by id: the values are alive until the column is spelled
    out = []
    for value in values:
        text = dumped.get(id(value))
        if text is None:
            text = json.dumps(value)
            # json.dumps writes every control character as an escape sequence, so a
            # backslash is the one character COPY's text format must escape here.
            if "\\" in text:
                text = text.replace("\\", "\\\\")
            dumped[id(value)] = text
        out.append(text)
    return out


def _column(values: list[Any]) -> list[str]:
    kinds = set(map(type, values))
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is str:
            joined = "".join(values)
            return [_escape(v) for v in values] if _SPECIAL.search(joined) else values
        if kind is int:  # exactly int (not a bool or an IntEnum): its own str
            return list(map(str, values))
        spell = _SPELLINGS.get(kind)
        if spell is not None:
            if kind in _FEW_DISTINCT:  # each distinct time spelled once (a batch shares "now")
                spelled = {v: spell(v) for v in set(values)}
                return list(map(spelled.__getitem__, values))
            return list(map(spell, values))
    return [_field(v) for v in values]


_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
)


_SPECIAL = re.compile("[\\\\\t\n\r\b\f\v]")


def _escape(text: str) -> str:
    return text.translate(_ESCAPES) if _SPECIAL.search(text) else text


def _field(value: Any) -> str:
    spell = _SPELLINGS.get(type(value))
    if spell is None:  # a subclass (a str enum, say): the first base it is an instance of
        spell = next((fn for t, fn in _SPELLINGS.items() if isinstance(value, t)), None)
        if spell is None:
            raise TypeError(f"bulk COPY cannot write a {type(value).__name__}: {value!r}")
        return spell(str.__str__(value) if isinstance(value, str) else value)
    return spell(value)


# Columns whose values repeat (a batch's timestamps, a month's periods).
_FEW_DISTINCT = frozenset({datetime, date})

# Order matters for subclasses: bool before int, datetime before date.
_SPELLINGS: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "\\N",
    bool: lambda v: "t" if v else "f",
    str: _escape,
    int: lambda v: str(int(v)),
    Decimal: str,  # plain for quantized amounts; PostgreSQL reads an exponent too
    datetime: datetime.isoformat,
    date: date.isoformat,
}
