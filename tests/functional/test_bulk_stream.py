"""``bulk.copy_stream``: several tables written in the order sent, errors raised, on both backends."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ngc_pilot import audit, bulk
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import AuditEvent, Invoice, InvoiceLine

pytestmark = pytest.mark.migrated

AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def engine(database):
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


def events(n: int, start: int = 0) -> list[dict]:
    return [
        {"at": AT, "actor": "t", "action": "test.stream", "subject": f"s{i}", "reason": None,
         "details": {"i": i}}
        for i in range(start, start + n)
    ]  # fmt: skip


def test_each_send_is_written_after_the_ones_before_across_many_chunks(engine):
    with session_scope(engine) as session:
        audit.record(session, actor="t", action="test.one", subject="first")
        session.flush()
        with bulk.copy_stream(session) as send:
            send(AuditEvent.__table__, events(1200))  # three chunks
            send(AuditEvent.__table__, [])
            audit.record_many(session, [audit.Entry("t", "test.stream", "last")], into=send)
    with session_scope(engine) as session:
        subjects = [e.subject for e in audit.events(session)]
    assert subjects == ["first"] + [f"s{i}" for i in range(1200)] + ["last"]


def test_a_row_the_database_refuses_is_raised_and_nothing_is_written(engine):
    line = {"invoice_id": 999_999, "position": 1, "item": "vcpu_hours", "description": "x",
            "price_version": "v", "period_from": AT.date(), "period_until": AT.date(),
            "quantity": 1, "unit": "h", "unit_price": 1, "list_amount": 1, "discount": 0,
            "charged": 1}  # fmt: skip
    with pytest.raises(Exception, match="(?i)foreign key"), session_scope(engine) as session:
        with bulk.copy_stream(session) as send:
            send(AuditEvent.__table__, events(10))
            send(InvoiceLine.__table__, [line])  # no such invoice
            send(AuditEvent.__table__, events(10, 10))
    with session_scope(engine) as session:
        assert session.execute(select(AuditEvent.id)).all() == []
        assert session.execute(select(InvoiceLine.id)).all() == []


def test_an_error_while_building_rows_abandons_the_stream_and_is_raised(engine):
    with pytest.raises(RuntimeError, match="while building"), session_scope(engine) as session:
        with bulk.copy_stream(session) as send:
            send(AuditEvent.__table__, events(600))
            raise RuntimeError("failed while building")
    with session_scope(engine) as session:
        assert session.execute(select(AuditEvent.id)).all() == []
        assert session.execute(select(Invoice.id)).all() == []
