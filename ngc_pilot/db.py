"""Database engine factory, session helper and the UTC timestamp column type.

``make_engine(url)`` is called by the entry point with the configured URL;
nothing here builds an engine at import time.  SQLite (the default) gets
foreign keys and a busy timeout; PostgreSQL is used as is.  A URL that cannot
work (not a URL, an unknown scheme, a driver that is not installed, an
in-memory SQLite database that would vanish with the command, a SQLite path
that is a folder or cannot be created) is refused here as an
:class:`~ngc_pilot.errors.InputError` naming the URL with its password hidden;
:func:`describe_database_error` turns what the database itself refuses into
one line without the statement's parameters (they hold personal data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Engine, Integer, Numeric, event, exc
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from ngc_pilot.errors import InputError
from policies.problems import Problem

SHORTENED_COLUMNS = frozenset({"error", "last_error"})
"""Text columns that record a failure's message: shortened to fit, never refused."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite command waits for another one's write lock before giving up."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; ngc-pilot stores UTC-aware timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _refuse(url: str, message: str) -> InputError:
    return InputError([Problem("settings", "database.url", url, message)])


def masked(url: str | URL) -> str:
    """``url`` with its password hidden (or the text as given when it is not a URL)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        return str(url).split("@")[-1] if "@" in str(url) else str(url)


def _check_sqlite(url: str, parsed: URL) -> None:
    database = parsed.database or ""
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        raise _refuse(
            url,
            "an in-memory SQLite database vanishes when the command ends; "
            "give a file, e.g. sqlite:///var/ngc-pilot.db",
        )
    if database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() and not path.is_file():
        raise _refuse(url, f"{path} is not a file")
    try:
        # The database holds PIs' names and e-mail addresses: a new one is 0600 in a
        # folder created 0700 (an existing folder or file keeps the mode it has).
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as error:
        raise _refuse(url, f"cannot create {path}: {error.strerror}") from error
    if not os.access(path, os.W_OK):
        raise _refuse(url, f"{path} is not writable")


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when needed.

    Raises :class:`InputError` for a URL that cannot work (see the module doc).
    """
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        raise _refuse(
            masked(url),
            "not a database URL; use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME",
        ) from error
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite(masked(parsed), parsed)
    try:
        engine = create_engine(url, echo=echo, pool_pre_ping=True)
    except exc.NoSuchModuleError as error:
        raise _refuse(
            masked(parsed),
            f"unknown database kind {parsed.drivername!r}; use sqlite or postgresql+psycopg",
        ) from error
    except ImportError as error:
        raise _refuse(
            masked(parsed),
            f"the driver for {parsed.drivername!r} is not installed ({error.name}); "
            "use sqlite or postgresql+psycopg",
        ) from error
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

    return engine


def _unstorable(column: Any, value: Any) -> str | None:
    """Why PostgreSQL would refuse ``value`` in ``column`` (SQLite would store it), or None."""
    kind = column.type
    if isinstance(value, str):
        length = getattr(kind, "length", None)
        if length is not None and len(value) > length:
            return f"at most {length} characters are allowed"
        if "\x00" in value:
            return "contains a NUL character"
    elif isinstance(value, int) and not isinstance(value, bool):
        bits = 63 if isinstance(kind, BigInteger) else 31 if isinstance(kind, Integer) else None
        if bits is not None and not -(2**bits) <= value < 2**bits:
            return f"must be between {-(2**bits)} and {2**bits - 1}"
    elif isinstance(value, Decimal) and isinstance(kind, Numeric) and kind.precision:
        whole = kind.precision - (kind.scale or 0)
        if not value.is_finite() or abs(value) >= Decimal(10) ** whole:
            return f"must be a finite number below 10^{whole}"
    return None


def _refuse_unstorable(session: Session, _context: object, _instances: object) -> None:
    """Refuse, on every backend, what PostgreSQL would refuse: text too long or with NUL,
    integers beyond the column, numbers beyond its precision.

    SQLite stores a 300-character actor in a 200-character column; PostgreSQL
    raises.  Checking the declared types before every flush makes both
    backends accept and refuse the same rows, with a message naming the field.
    Diagnostic text (:data:`SHORTENED_COLUMNS`, e.g. a cloud's error message)
    is shortened to fit instead: refusing it would lose the failure it records.
    """
    problems = []
    for obj in [*session.new, *session.dirty]:
        mapper = sa_inspect(obj).mapper
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            value = getattr(obj, prop.key, None)
            length = getattr(column.type, "length", None)
            if column.name in SHORTENED_COLUMNS and isinstance(value, str) and length:
                if len(value) > length:  # a cloud's error message: keep its start
                    setattr(obj, prop.key, value[: length - 1] + "…")
                continue
            reason = _unstorable(column, value)
            if reason is not None:
                where = f"{mapper.local_table.name}.{column.name}"
                problems.append(Problem("database", where, value, reason))
    if problems:
        raise InputError(problems)


event.listen(Session, "before_flush", _refuse_unstorable)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def describe_database_error(error: exc.SQLAlchemyError) -> tuple[str, int]:
    """One line for what the database refused, and the exit code; never the parameters.

    SQLAlchemy's own message carries the statement and its parameters (a PI's
    e-mail address, say); only the driver's first line is kept.
    """
    original = getattr(error, "orig", None)
    first = (str(original) if original is not None else str(error)).strip().splitlines()
    reason = first[0] if first else type(error).__name__
    reason = reason.split("[SQL:")[0].strip()
    if isinstance(error, exc.IntegrityError):
        return (
            "another ngc-pilot changed the same records at the same time; nothing was "
            "changed, run the command again",
            1,
        )
    if isinstance(error, exc.OperationalError) and "locked" in reason:
        return (
            f"the database is busy: another ngc-pilot held it for more than "
            f"{SQLITE_BUSY_TIMEOUT_MS / 1000:g} s; nothing was changed, try again",
            1,
        )
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return f"cannot use the database: {reason}", 2
    if isinstance(error, exc.DataError | exc.StatementError):
        return f"the database refused a value: {reason}; nothing was changed", 2
    return f"the database failed: {reason}; nothing was changed", 1
