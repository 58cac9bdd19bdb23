"""Fixtures shared by every tier.

Database tests run on SQLite *and* PostgreSQL (``db_url`` is parametrised).
PostgreSQL is the server on 127.0.0.1:5432 when one answers, otherwise a
private one started for the session (see ``support/pgserver.py``); each test
gets a database of its own, dropped afterwards.  A test marked ``migrated`` gets
its database at the head revision, copied from a template migrated once per
session (``support/databases.py``); tests of the migrations themselves are not
marked and start from an empty database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from policies.selection_policy import SelectionPolicy, load_policy

if TYPE_CHECKING:
    from support.databases import PostgresDatabases

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "ngc_pilot" / "demo_data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in ("unit", "functional", "integration"):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def policy() -> SelectionPolicy:
    return load_policy()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's NGC_PILOT_* settings or OpenStack (OS_*) variables.

    ngc-pilot honours OS_CLOUD and OS_CLIENT_CONFIG_FILE, so a developer's
    would otherwise change which cloud every test's settings name.
    """
    for key in list(os.environ):
        if key.startswith("NGC_PILOT_") and not key.startswith("NGC_PILOT_TEST_"):
            monkeypatch.delenv(key)
        elif key.startswith("OS_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    from support.pgserver import server_url

    url, private = server_url()
    try:
        yield url
    finally:
        if private is not None:
            private.stop()


@dataclass(frozen=True)
class Database:
    url: str
    backend: str


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (see ``support/databases.py``)."""
    from support.databases import build_sqlite_template

    return build_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_databases(pg_admin_url: str) -> Iterator[PostgresDatabases]:
    """Per-test PostgreSQL databases, empty or copied from a template migrated once.

    The template is dropped at the end of the session, also after failed tests.
    """
    from support.databases import PostgresDatabases

    with PostgresDatabases(pg_admin_url) as databases:
        yield databases


@pytest.fixture
def pg_pair(pg_admin_url: str) -> Iterator[list[str]]:
    """Two empty PostgreSQL databases: the replicas' and a twin for a reference run."""
    from support.databases import new_name
    from support.pgserver import create_database, drop_database

    names = [new_name() for _ in range(2)]
    urls = [create_database(pg_admin_url, name) for name in names]
    try:
        yield urls
    finally:
        for name in names:
            drop_database(pg_admin_url, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each backend (no tables yet).

    For a test marked ``migrated`` the database is at the head revision instead: a
    copy of the session's migrated template, still one database per test.
    """
    migrated = request.node.get_closest_marker("migrated") is not None
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        if migrated:
            from support.databases import copy_sqlite

            copy_sqlite(request.getfixturevalue("sqlite_template"), path)
        yield Database(f"sqlite:///{path}", "sqlite")
        return
    from support.databases import new_name

    databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    name = new_name()
    url = databases.create(name, migrated=migrated)
    try:
        yield Database(url, "postgresql")
    finally:
        databases.drop(name)
