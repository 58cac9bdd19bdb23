"""Concurrent operators: no lost decision, no traceback, a busy database waits then says so."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import yaml
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from support.records import record

from ngc_pilot import db as db_module
from ngc_pilot import intake, migrate, selection
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.models import SelectionDecision


@pytest.fixture
def engine(database, policy, tmp_path):
    engine = make_engine(database.url)
    migrate.upgrade(engine)
    path = tmp_path / "n.yaml"
    records = [record(id=f"C-{i}", institution=f"Inst {i}") for i in range(8)]
    path.write_text(yaml.safe_dump({"applications": records}))
    with session_scope(engine) as session:
        intake.import_files(session, [path], policy, actor="tester")
    yield engine
    engine.dispose()


@pytest.mark.migrated
def test_a_commit_of_a_proposal_older_than_the_latest_decision_is_refused(engine, policy):
    options = selection.SelectOptions(k_min=1, explain=False)
    with session_scope(engine) as session:
        stale = selection.propose(session, policy, options)
    with session_scope(engine) as session:
        fresh = selection.propose(session, policy, options)
        selection.commit(session, fresh, by="A", reason="first", actor="a")
    with pytest.raises(InputError, match="decision 1 was recorded after this proposal"):
        with session_scope(engine) as session:
            selection.commit(session, stale, by="B", reason="second", actor="b")
    with session_scope(engine) as session:
        assert [d.reason for d in selection.decisions(session)] == ["first"]


@pytest.mark.migrated
def test_two_decisions_based_on_the_same_one_cannot_both_be_stored(engine):
    def decision() -> SelectionDecision:
        return SelectionDecision(
            decided_by="x", reason="r", policy_digest="d", k_min=1, k_max=1,
            objective=1.0, optimal=True, based_on=0,
        )  # fmt: skip

    with session_scope(engine) as session:
        session.add(decision())
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(decision())


@pytest.mark.migrated
def test_two_imports_of_one_file_at_once_both_succeed(cli, tmp_path):
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump({"applications": [record(id=f"S-{i}") for i in range(30)]}))
    start = threading.Barrier(2)
    codes: list[int] = []

    def one() -> None:
        start.wait()
        codes.append(cli("intake", "import", str(path)).code)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [0, 0]
    assert len(cli("intake", "list", "--json").json()) == 30


@pytest.mark.migrated
def test_a_locked_sqlite_database_waits_then_says_so_in_one_line(
    cli, database, tmp_path, monkeypatch
):
    if database.backend != "sqlite":
        pytest.skip("SQLite's file lock")
    assert cli("db", "upgrade").code == 0
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    holder = sqlite3.connect(database.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        path = tmp_path / "n.yaml"
        path.write_text(yaml.safe_dump({"applications": [record(id="L-1")]}))
        result = cli("intake", "import", str(path))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "error: the database is busy: another ngc-pilot held it for more than 0.05 s; "
        "nothing was changed, try again"
    ]
    assert cli("intake", "list", "--json").json() == []


@pytest.mark.migrated
def test_the_database_refuses_two_applications_with_one_folded_id(engine):
    from ngc_pilot.models import Application

    with session_scope(engine) as session:
        stored = session.get(Application, "C-1")
        assert stored is not None and stored.id_key == "c-1"
        twin = Application(
            **{k: v for k, v in stored.model_dump().items() if k not in ("id", "id_key")},
            id="c-1",
        )
        session.expunge(stored)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(twin)


def test_migration_0005_folds_stored_ids_and_leaves_earlier_collisions_null(database):
    from sqlalchemy import text

    engine = make_engine(database.url)
    migrate.upgrade(engine, "0003")
    columns = (
        "name, pi_name, pi_email, institution, institution_type, nominated_by, "
        "data_volume_bytes, maturity, ready_date, commits_to_evaluation, "
        "data_processing_agreement, document, source, revision, created_at, updated_at"
    )
    values = (
        "'n', 'p', 'p@example.org', 'i', 't', 'b', 1, 1, '2021-04-01', true, 'signed', "
        "'{}', 'f.yaml:1', 1, '2021-01-01 00:00:00+00', '2021-01-01 00:00:00+00'"
    )
    with engine.begin() as connection:
        for app_id in ("ACC-1", "acc-1", "B-2"):
            connection.execute(
                text(f"INSERT INTO application (id, {columns}) VALUES ('{app_id}', {values})")
            )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, id_key FROM application")).all()
    engine.dispose()
    assert sorted(tuple(r) for r in rows) == [("ACC-1", "acc-1"), ("B-2", "b-2"), ("acc-1", None)]


@pytest.mark.migrated
def test_two_commits_at_once_never_override_a_decision_unseen(cli, database, tmp_path):
    """Whatever the interleaving: each stored decision was computed against the one before."""
    path = tmp_path / "n.yaml"
    records = [record(id=f"R-{i}", institution=f"Inst {i}") for i in range(6)]
    path.write_text(yaml.safe_dump({"applications": records}))
    assert cli("intake", "import", str(path)).code == 0
    start = threading.Barrier(2)
    codes: list[int] = []

    def commit(who: str) -> None:
        start.wait()
        codes.append(cli("select", "--min", "1", "--commit", "--by", who, "--reason", "r").code)

    threads = [threading.Thread(target=commit, args=(who,)) for who in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 0 in codes and set(codes) <= {0, 1, 2}
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        stored = sorted((d.id, d.based_on) for d in session.exec(select(SelectionDecision)).all())
    engine.dispose()
    assert len(stored) == codes.count(0)
    assert [based_on for _, based_on in stored] == [0] + [i for i, _ in stored[:-1]]
