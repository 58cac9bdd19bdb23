"""Per-test databases made from a template migrated once per test session.

Why this exists
---------------
Most functional tests need a database at the head revision, not the migrations
themselves.  Running every Alembic migration for each test, on SQLite and on
PostgreSQL, cost about a second per test (0.9 s on SQLite, 0.8 s plus a slower
``CREATE DATABASE`` on PostgreSQL) and was the largest single cost of the
functional tier.  Here each backend's schema is migrated once per session into a
*template*, and a test marked ``migrated`` gets a copy of it:

* SQLite: :func:`build_sqlite_template` migrates one file; the ``database``
  fixture copies it per test (a file copy, about a millisecond).
* PostgreSQL: :class:`PostgresDatabases` migrates a template database once and
  makes each test's database with ``CREATE DATABASE … TEMPLATE <template>``.

The template is migrated to whatever ``head`` is when the session starts and is
thrown away at its end, so a new migration needs no change here.

Each test's PostgreSQL database is dropped when the test ends, whether it
passed or not, and the template when the session ends
(:meth:`PostgresDatabases.close`); a process killed outright leaves its
``ngc_test_*`` databases behind.  Dropping on a background thread was tried and
not kept: with the disk shared by the next ``CREATE DATABASE`` it saved nothing
measurable on the 2-core machine (about 2.1 s per create, test, drop cycle both
ways at load 7).

What it does not do: it never serves tests that exercise migrations (upgrade
from empty or from an old revision, downgrade); those leave the ``migrated``
marker off and get an empty database as before.  It does not pick a revision
and does not share one database between tests: every test still gets a database
of its own.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine

from support.pgserver import create_database, drop_database

PREFIX = "ngc_test_"


def _migrate(url: str) -> None:
    from ngc_pilot import migrate
    from ngc_pilot.db import make_engine

    engine: Engine = make_engine(url)
    try:
        migrate.upgrade(engine)  # to the head found now, never a fixed revision
    finally:
        engine.dispose()  # no connection may stay open on a PostgreSQL template


def build_sqlite_template(directory: Path) -> Path:
    """A SQLite file in ``directory`` migrated to head; copy it with :func:`copy_sqlite`."""
    path = directory / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


def copy_sqlite(template: Path, path: Path) -> str:
    """Copy the template file to ``path``; return its SQLAlchemy URL."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def new_name(kind: str = "") -> str:
    """A fresh database name that the end-of-run check (``LIKE 'ngc_test%'``) finds."""
    return f"{PREFIX}{kind}{uuid.uuid4().hex[:12]}"


class PostgresDatabases:
    """Databases on one PostgreSQL server for one test session: empty or from the template."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._template: str | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> PostgresDatabases:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def template(self) -> str:
        """The name of the migrated template, made on first use."""
        with self._lock:
            if self._template is None:
                name = new_name("template_")
                url = create_database(self.admin_url, name)
                try:
                    _migrate(url)
                except BaseException:
                    drop_database(self.admin_url, name)
                    raise
                self._template = name
            return self._template

    def create(self, name: str, *, migrated: bool) -> str:
        """Create ``name``, empty (from template0) or a copy of the migrated template."""
        if not migrated:
            return create_database(self.admin_url, name)
        return create_database(self.admin_url, name, template=self.template())

    def drop(self, name: str) -> None:
        """Drop ``name``, disconnecting its sessions."""
        drop_database(self.admin_url, name)

    def close(self) -> None:
        """Drop the template, if one was made."""
        if self._template is not None:
            drop_database(self.admin_url, self._template)
            self._template = None
