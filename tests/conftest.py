"""Fixtures shared by every tier.

Database tests run on SQLite *and* PostgreSQL (``db_url`` is parametrised).
PostgreSQL is the server on 127.0.0.1:5432 when one answers, otherwise a
private one started for the session (see ``support/pgserver.py``); each test
gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from policies.selection_policy import SelectionPolicy, load_policy

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


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each backend (no tables yet)."""
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'test.db'}", "sqlite")
        return
    from support.pgserver import create_database, drop_database

    admin = request.getfixturevalue("pg_admin_url")
    name = f"ngc_test_{uuid.uuid4().hex[:12]}"
    url = create_database(admin, name)
    try:
        yield Database(url, "postgresql")
    finally:
        drop_database(admin, name)
