"""Migration 0004 (evaluation, support log, milestones) up and down on both backends."""

from sqlalchemy import inspect

from ngc_pilot import migrate
from ngc_pilot.db import make_engine

NEW = {"evaluation_response", "evaluation_answer", "support_item", "milestone"}


def test_0004_adds_the_evaluation_tables_and_its_downgrade_removes_only_them(database):
    engine = make_engine(database.url)
    migrate.upgrade(engine, "0003")
    before = set(inspect(engine).get_table_names())
    assert not NEW & before
    migrate.upgrade(engine, "0004")
    assert set(inspect(engine).get_table_names()) == before | NEW
    migrate.downgrade(engine, "0003")
    assert set(inspect(engine).get_table_names()) == before
    migrate.upgrade(engine)
    assert NEW <= set(inspect(engine).get_table_names())
    engine.dispose()
