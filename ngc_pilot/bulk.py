"""Bulk inserts: thousands of rows in one round trip on SQLite and PostgreSQL.

Why this exists: a month's rating writes up to thousands of invoice lines and
audit events; an INSERT per row (or psycopg parsing one huge multi-row
INSERT) takes seconds where PostgreSQL's ``COPY ... FROM STDIN`` takes
milliseconds.  :func:`insert_rows` picks ``COPY`` on PostgreSQL and
``executemany`` elsewhere, inside the session's transaction.

It deliberately validates nothing: callers insert rows they built themselves,
or go through a validating front door such as :func:`ngc_pilot.audit.record_many`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlmodel import Session


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
    """PostgreSQL ``COPY ... FROM STDIN`` of ``rows`` inside the session's transaction."""
    if not rows:
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.c if isinstance(c.type, JSON)}
    raw = session.connection().connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
