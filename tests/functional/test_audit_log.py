"""The audit log's front doors: one event, many events in bulk, the newest N — on both backends."""

from datetime import UTC, datetime

import pytest

from ngc_pilot import audit
from ngc_pilot.db import make_engine, session_scope

pytestmark = pytest.mark.migrated


@pytest.fixture
def engine(database):
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


def entries(n: int) -> list[audit.Entry]:
    return [
        audit.Entry(
            actor="bulk",
            action="test.bulk",
            subject=f"s{i}",
            reason=None if i % 2 else f"reason {i}",
            details={"i": i, "nested": {"list": [i, str(i)]}},
        )
        for i in range(n)
    ]


def test_record_many_writes_every_event_in_order_after_those_recorded_before(engine):
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with session_scope(engine) as session:
        audit.record(session, actor="one", action="test.one", subject="first")
        assert audit.record_many(session, entries(300), at=at) == 300
    with session_scope(engine) as session:
        events = audit.events(session)
    assert [e.subject for e in events] == ["first"] + [f"s{i}" for i in range(300)]
    bulk = events[1:]
    assert all(e.at == at for e in bulk)
    assert bulk[7].details == {"i": 7, "nested": {"list": [7, "7"]}}
    assert (bulk[6].reason, bulk[7].reason) == ("reason 6", None)


def test_record_many_refuses_secret_looking_keys_and_writes_none_of_the_batch(engine):
    batch = [*entries(3), audit.Entry("a", "test.bulk", "x", details={"x": {"api_token": "t"}})]
    with pytest.raises(ValueError, match="secrets.*api_token"), session_scope(engine) as session:
        audit.record_many(session, batch)
    with session_scope(engine) as session:
        assert audit.events(session) == []


def test_events_with_a_limit_are_the_newest_ones_oldest_first(engine):
    with session_scope(engine) as session:
        audit.record_many(session, entries(50))
        audit.record(session, actor="one", action="other.kind", subject="s3")
    with session_scope(engine) as session:
        assert [e.subject for e in audit.events(session, limit=3)] == ["s48", "s49", "s3"]
        assert [e.subject for e in audit.events(session, action="test", limit=2)] == ["s48", "s49"]
        assert [e.action for e in audit.events(session, subject="s3", limit=5)] == [
            "test.bulk",
            "other.kind",
        ]


def test_record_many_keeps_every_character_and_type_through_the_bulk_write(engine):
    """On PostgreSQL the rows go as COPY text built by ``ngc_pilot.bulk``: tabs, newlines,
    backslashes, ``\\N``, quotes and non-ASCII come back exactly as given."""
    awkward = 'tab\there\nnew line\r\\back\\slash \\N "quoted" ø ü 💶'
    at = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    batch = [
        audit.Entry(actor=awkward, action="test.text", subject="\\N", reason=awkward,
                    details={"text": awkward, "\\N": None, "n": [1, 2.5, True, None]}),
        audit.Entry(actor="plain", action="test.text", subject="", reason=None, details={}),
    ]  # fmt: skip
    with session_scope(engine) as session:
        audit.record_many(session, batch, at=at)
    with session_scope(engine) as session:
        first, second = audit.events(session)
    assert (first.actor, first.subject, first.reason) == (awkward, "\\N", awkward)
    assert first.details == {"text": awkward, "\\N": None, "n": [1, 2.5, True, None]}
    assert (second.subject, second.reason, second.details) == ("", None, {})
    assert first.at == at
