"""Alembic migrations up and down, and the append-only audit log, on both backends."""

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from ngc_pilot import audit, migrate
from ngc_pilot.db import make_engine, session_scope

TABLES = {"application", "audit_event", "selection_decision", "pilot", "tenant", "provision_step"}


def test_upgrade_creates_and_downgrade_removes_every_table(database):
    engine = make_engine(database.url)
    migrate.upgrade(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert migrate.is_current(engine)
    migrate.downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)  # and up again after down
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_schema_matches_the_models_after_upgrade(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(database.url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"]
)
def test_audit_log_refuses_update_and_delete(database, statement):
    engine = make_engine(database.url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        audit.record(session, actor="a", action="test.event", subject="x", reason="because")
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    with session_scope(engine) as session:
        events = audit.events(session)
    assert [(e.actor, e.action) for e in events] == [("a", "test.event")]
    assert events[0].at.tzinfo is not None
    engine.dispose()


def test_audit_refuses_details_that_look_like_secrets(database):
    engine = make_engine(database.url)
    migrate.upgrade(engine)
    with pytest.raises(ValueError, match="secrets"), session_scope(engine) as session:
        audit.record(
            session, actor="a", action="x", subject="y", details={"nested": {"password": "p"}}
        )
    engine.dispose()


def test_cli_db_commands(cli):
    assert cli("db", "upgrade").code == 0
    assert cli("db", "current", "--json").json() == {
        "current": "0017_invoice_price_use",
        "head": "0017_invoice_price_use",
    }
    assert cli("db", "downgrade", "base").code == 0
    assert cli("db", "current", "--json").json()["current"] is None
