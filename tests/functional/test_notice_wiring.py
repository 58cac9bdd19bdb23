"""Notices wired to the mail templates: the PI's language, the "tenant ready" notice
committed with the move to active, the statement per PI (SQLite and PostgreSQL).

Member and request notices are checked where they are queued
(``test_members.py``, ``test_change_requests.py``); this file covers what the
PI receives outside a request.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial

import pytest
from sqlmodel import col, select
from support.metrics_seed import add_pilots

from ngc_pilot import mail
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import Application, Invoice, InvoiceLine, OutboxMessage, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_runs import queue_ready_notice
from ngc_pilot.tenant_state import set_state
from policies.tenancy import load_tenant_policy

pytestmark = pytest.mark.migrated


@pytest.fixture
def engine(database):
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        add_pilots(
            session,
            {
                "P-1": ("provisioning", "small", date(2027, 3, 31)),
                "P-2": ("provisioning", "small", date(2027, 3, 31)),
            },
        )
        # P-2's PI asked for English in the nomination; P-1's gave no language (Danish).
        app = session.get(Application, "P-2")
        app.document = {"principal_investigator": {"name": "PI", "language": "en"}}
        app.pi_email = "pi2@example.org"
        session.add(app)
    yield engine
    engine.dispose()


def _prov(engine, tmp_path) -> Provisioner:
    return Provisioner(engine, load_tenant_policy(), lambda: None, "test", tmp_path, "tester")


def _outbox(engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def test_pi_language_defaults_to_danish():
    assert mail.pi_language({}) == "da"
    assert mail.pi_language(None) == "da"
    assert mail.pi_language({"principal_investigator": {"language": "de"}}) == "da"
    assert mail.pi_language({"principal_investigator": {"language": "en"}}) == "en"


def test_the_ready_notice_commits_with_the_move_to_active_in_the_pis_language(engine, tmp_path):
    prov = _prov(engine, tmp_path)
    for pilot_id in ("P-1", "P-2"):
        set_state(
            prov,
            pilot_id,
            "active",
            project_id="x",
            also=partial(queue_ready_notice, prov, pilot_id),
        )
    ready = {m.pilot_id: m for m in _outbox(engine)}
    assert ready["P-1"].key == "tenant-ready:P-1" and ready["P-1"].language == "da"
    assert "er klar" in ready["P-1"].subject
    assert ready["P-2"].language == "en" and "is ready" in ready["P-2"].subject
    assert all("{{" not in m.body for m in ready.values())
    # Active again (a repair): the notice is not queued twice.
    set_state(prov, "P-1", "active", project_id="x", also=partial(queue_ready_notice, prov, "P-1"))
    assert len(_outbox(engine)) == 2


def test_a_crash_between_the_notice_and_the_state_loses_neither(engine, tmp_path):
    """Both are one transaction: if anything fails after the notice is queued,
    the tenant is not active and no notice is left behind (the next run does both)."""
    prov = _prov(engine, tmp_path)

    def queue_then_fail(session):
        queue_ready_notice(prov, "P-1", session)
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        set_state(prov, "P-1", "active", project_id="x", also=queue_then_fail)
    with session_scope(engine) as session:
        assert session.get(Tenant, "P-1").state == "provisioning"
    assert _outbox(engine) == []


def _invoice(session, pilot_id: str) -> None:
    inv = Invoice(
        pilot_id=pilot_id,
        month="2026-11",
        revision=1,
        final=True,
        list_total=Decimal("10.00"),
        discount_total=Decimal("10.00"),
        charged_total=Decimal("0.00"),
        rated_by="tests",
    )
    session.add(inv)
    session.flush()
    session.add(
        InvoiceLine(
            invoice_id=inv.id,
            position=1,
            item="vcpu_hours",
            description="vCPU hours",
            price_version="2026",
            period_from=date(2026, 11, 1),
            period_until=date(2026, 12, 1),
            quantity=Decimal("40"),
            unit="h",
            unit_price=Decimal("0.25"),
            list_amount=Decimal("10.00"),
            discount=Decimal("10.00"),
            charged=Decimal("0.00"),
        )
    )


def test_the_statement_is_in_each_pis_language(engine):
    with session_scope(engine) as session:
        _invoice(session, "P-1")
        _invoice(session, "P-2")
    report = mail.queue_statements(engine, "2026-11", actor="t")
    assert sorted(e["pilot"] for e in report.queued) == ["P-1", "P-2"]
    sent = {m.pilot_id: m for m in _outbox(engine)}
    assert sent["P-1"].language == "da" and sent["P-2"].language == "en"
    assert "usage statement" in sent["P-2"].subject and "usage statement" not in sent["P-1"].subject
    assert all("{{" not in m.body for m in sent.values())
