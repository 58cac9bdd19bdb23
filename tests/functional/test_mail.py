"""E-mail through a real SMTP server on 127.0.0.1 (aiosmtpd), on SQLite and PostgreSQL.

Queued notices arrive once each with their attachments, in the recipient's
language; a refused message is retried after its backoff and a final refusal
is visible in ``outbox --json`` and ``/metrics``; a message left claimed by a
dead sender is sent again only after the in-doubt timeout, with the same
Message-ID; the SMTP password never reaches output, database or logs.
"""

from __future__ import annotations

import json
import logging
import smtplib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select
from support.metrics_seed import add_pilots
from support.smtpserver import SmtpServer, free_port

from ngc_pilot import mail
from ngc_pilot.cli.main import run
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError, TransientError
from ngc_pilot.mail.message import build
from ngc_pilot.mail.sending import claim
from ngc_pilot.metrics import registry_for
from ngc_pilot.models import AuditEvent, Invoice, InvoiceLine, OutboxMessage
from ngc_pilot.settings import MailSettings, build_settings
from policies.tenancy import load_tenant_policy

pytestmark = [
    pytest.mark.migrated,
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning"),
]

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
READY = {
    "pi_name": "Ada Lovelace",
    "pilot": "P-1",
    "title": "Genomes",
    "project": "ngc-p-1",
    "last_day": "2027-03-31",
    "support_contact": "support@example.org",
}


@pytest.fixture
def engine(database):
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        add_pilots(
            session,
            {
                "P-1": ("active", "small", date(2027, 3, 31)),
                "P-2": ("active", "small", date(2027, 3, 31)),
            },
        )
    yield engine
    engine.dispose()


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def settings_for(server, **more) -> MailSettings:
    return MailSettings(
        smtp_host="127.0.0.1", smtp_port=server.port, sender="ngc@example.org", **more
    )


def clock(at: datetime):
    return lambda: at


def queue(engine, key, *, language="da", kind="tenant_ready", **more):
    with session_scope(engine) as session:
        return mail.queue(
            session,
            key=key,
            kind=kind,
            recipient=more.pop("recipient", "pi@example.org"),
            language=language,
            context=more.pop("context", READY),
            pilot_id=more.pop("pilot_id", "P-1"),
            **more,
        )


def rows(engine) -> dict[str, OutboxMessage]:
    with session_scope(engine) as session:
        return {m.key: m for m in session.exec(select(OutboxMessage)).all()}


def test_queued_notices_arrive_once_each_in_their_language_with_attachments(engine, smtp):
    blob = bytes(range(256)) * 40
    assert queue(engine, "ready:P-1").created
    assert not queue(engine, "ready:P-1").created  # the key is the idempotency key
    queue(
        engine,
        "ready:P-2",
        language="en",
        recipient="other@example.org",
        pilot_id="P-2",
        attachments=[mail.Attachment("bundle.age", blob, "application/octet-stream")],
    )
    # A row written by another module with its own subject and body goes the same way.
    with session_scope(engine) as session:
        session.add(
            OutboxMessage(
                key="steering:2026-11",
                kind="report",
                recipient="steering@example.org",
                subject="Rapport",
                body="Se vedhæftet.",
            )
        )
    settings = settings_for(smtp)
    report = mail.send_due(engine, settings, actor="t")
    assert (report.sent, report.failed, report.retrying) == (3, 0, 0)
    again = mail.send_due(engine, settings, actor="t")
    assert again.claimed == 0
    got = {r.rcpt_tos[0]: r.message for r in smtp.received}
    assert len(smtp.received) == 3
    da, en = got["pi@example.org"], got["other@example.org"]
    assert "klar" in da["Subject"] and "Kære Ada Lovelace" in da.get_body().get_content()
    assert "is ready" in en["Subject"] and "Dear Ada Lovelace" in en.get_body().get_content()
    assert en["Content-Language"] == "en"
    [attachment] = list(en.iter_attachments())
    assert attachment.get_filename() == "bundle.age" and attachment.get_content() == blob
    assert got["steering@example.org"]["Subject"] == "Rapport"
    stored = rows(engine)
    assert {m.status for m in stored.values()} == {"sent"}
    assert {m.attempts for m in stored.values()} == {1}
    assert da["Message-ID"] == stored["ready:P-1"].message_id
    assert stored["ready:P-1"].message_id.endswith("@example.org>")
    with session_scope(engine) as session:
        sent = session.exec(select(AuditEvent).where(AuditEvent.action == "mail.sent")).all()
    assert sorted(e.subject for e in sent) == ["ready:P-1", "ready:P-2", "steering:2026-11"]


def test_queue_refuses_bad_input_and_writes_nothing(engine):
    with pytest.raises(InputError, match="language"):
        queue(engine, "x:1", language="de")
    with pytest.raises(InputError, match="recipient"):
        queue(engine, "x:2", recipient="not-an-address")
    with pytest.raises(InputError, match="no such template"):
        queue(engine, "x:3", kind="nonsense")
    with pytest.raises(Exception, match="undefined"):
        queue(engine, "x:4", context={"pilot": "P-1"})  # a variable the template needs
    assert rows(engine) == {}


def test_every_template_renders_in_danish_and_english():
    for template in mail.templates():
        for language in mail.LANGUAGES:
            subject, body = mail.render(template, language, _context_for(template))
            assert subject and "\n" not in subject and body.strip()


def _context_for(template: str) -> dict:
    base = {
        **READY,
        "name": "Ada",
        "role": "member",
        "how_to_collect": "Ask operations.",
        "days_left": 7,
        "suspend_on": "2027-04-01",
        "teardown_on": "2027-05-01",
        "grace_days": 30,
        "request_id": 4,
        "what": "more time",
        "approved": True,
        "reason": "fits",
        "month": "2026-11",
        "final": True,
        "revision": 1,
        "currency": "DKK",
        "list_total": Decimal("10.00"),
        "discount_total": Decimal("10.00"),
        "charged_total": Decimal("0.00"),
        "lines": [],
    }
    return base


def test_a_refused_message_is_retried_after_its_backoff_then_sent_once(engine, smtp):
    queue(engine, "ready:P-1")
    settings = settings_for(smtp, backoff_seconds=60)
    smtp.refuse_next("451 4.3.0 try again later")
    first = mail.send_due(engine, settings, actor="t", clock=clock(T0))
    assert (first.sent, first.retrying) == (0, 1)
    row = rows(engine)["ready:P-1"]
    assert row.status == "queued" and row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at == T0 + timedelta(seconds=60)
    early = mail.send_due(engine, settings, actor="t", clock=clock(T0 + timedelta(seconds=30)))
    assert early.claimed == 0 and smtp.received == []
    later = mail.send_due(engine, settings, actor="t", clock=clock(T0 + timedelta(seconds=61)))
    assert later.sent == 1 and len(smtp.received) == 1
    row = rows(engine)["ready:P-1"]
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None


def test_final_failures_show_in_outbox_json_the_job_and_metrics(engine, smtp, capsys):
    queue(engine, "ready:P-1")
    queue(engine, "ready:P-2", pilot_id="P-2")
    settings = settings_for(smtp, max_attempts=2, backoff_seconds=0)
    smtp.refuse_next("550 5.1.1 no such mailbox", "451 busy", "451 busy")
    first = mail.send_due(engine, settings, actor="t", clock=clock(T0))
    assert first.failed == 1 and first.retrying == 1
    second = mail.send_due(engine, settings, actor="t", clock=clock(T0 + timedelta(seconds=1)))
    assert second.failed == 1 and second.failures[0]["attempts"] == 2
    url = engine.url.render_as_string(hide_password=False)
    assert run(["--db", url, "outbox", "--status", "failed", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["status"], r["attempts"]) for r in out] == [
        ("ready:P-1", "failed", 1),
        ("ready:P-2", "failed", 2),
    ]
    assert out[0]["last_error"].startswith("550") and out[1]["last_error"].startswith("451")
    registry = registry_for(engine, load_tenant_policy())
    sample = registry.get_sample_value
    assert sample("ngc_pilot_outbox_messages", {"status": "failed"}) == 2.0
    assert sample("ngc_pilot_outbox_messages", {"status": "queued"}) == 0.0
    assert run(["--db", url, "outbox", "--status", "lost"]) == 2
    assert "--status" in capsys.readouterr().err


def test_the_mail_job_reports_final_failures_so_the_run_counts_as_failed(engine, smtp):
    queue(engine, "ready:P-1")
    smtp.refuse_next("550 5.1.1 no such mailbox")
    settings = build_settings(environ={"NGC_PILOT_MAIL__SMTP_PORT": str(smtp.port)})
    summary = mail.send_job(engine, settings)
    assert summary["failed"] == 1 and summary["failures"][0]["key"] == "ready:P-1"
    assert summary["outbox"]["failed"] == 1


def test_an_unreachable_server_fails_the_job_and_keeps_the_messages(engine):
    queue(engine, "ready:P-1")
    settings = build_settings(
        environ={
            "NGC_PILOT_MAIL__SMTP_PORT": str(free_port()),
            "NGC_PILOT_MAIL__BACKOFF_SECONDS": "0",
        }
    )
    with pytest.raises(TransientError, match="cannot reach the SMTP server"):
        mail.send_job(engine, settings)
    row = rows(engine)["ready:P-1"]
    assert row.status == "queued" and row.attempts == 1 and "cannot reach" in row.last_error


def test_claims_of_two_senders_never_overlap(engine):
    for n in range(6):
        queue(engine, f"ready:{n}")
    settings = MailSettings(batch=4)
    first = claim(engine, settings, T0)
    second = claim(engine, settings, T0)
    assert len(first) == 4 and len(second) == 2
    assert not {c.id for c in first} & {c.id for c in second}


def test_the_in_doubt_rule_after_a_sender_died(engine, smtp, capsys):
    """After ``in_doubt_seconds``: a claimed message never handed over is sent;
    one handed over without a recorded reply is not re-sent but marked in doubt,
    until a person re-queues it (same Message-ID)."""
    queue(engine, "ready:P-1")
    queue(engine, "ready:P-2", pilot_id="P-2")
    settings = settings_for(smtp, in_doubt_seconds=900)
    [handed, never] = claim(engine, settings, T0)
    # The dead sender had marked the first as being handed over and sent it ...
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE outbox_message SET status = 'sending' WHERE id = :id"), {"id": handed.id}
        )
    with smtplib.SMTP(smtp.host, smtp.port) as conn:
        conn.send_message(
            build(
                sender=settings.sender,
                recipient=handed.recipient,
                subject=handed.subject,
                body=handed.body,
                message_id=handed.message_id,
                language=handed.language,
                attachments=None,
                kind=handed.kind,
            )
        )
    # ... and was killed before recording the server's reply.
    soon = mail.send_due(engine, settings, actor="t", clock=clock(T0 + timedelta(seconds=600)))
    assert (soon.claimed, soon.in_doubt) == (0, 0)
    late = mail.send_due(engine, settings, actor="t", clock=clock(T0 + timedelta(seconds=901)))
    assert (late.sent, late.reclaimed, late.in_doubt) == (1, 1, 1)
    ids = [r.message["Message-ID"] for r in smtp.received]
    assert sorted(ids) == sorted([handed.message_id, never.message_id])  # none twice
    stored = rows(engine)
    assert stored["ready:P-1"].status == "in_doubt" and "in doubt" in stored["ready:P-1"].last_error
    assert stored["ready:P-2"].status == "sent" and stored["ready:P-2"].attempts == 2
    registry = registry_for(engine, load_tenant_policy())
    assert registry.get_sample_value("ngc_pilot_outbox_messages", {"status": "in_doubt"}) == 1.0
    with session_scope(engine) as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("mail.in_doubt") == 1 and actions.count("mail.reclaimed") == 1

    url = engine.url.render_as_string(hide_password=False)
    assert run(["--db", url, "outbox", "retry", "ready:P-2", "--reason", "x"]) == 2
    assert "sent" in capsys.readouterr().err  # only failed or in-doubt ones
    assert run(["--db", url, "outbox", "retry", "ready:P-1", "--reason", "not in the log"]) == 0
    again = mail.send_due(engine, settings, actor="t", clock=clock(T0 + timedelta(seconds=902)))
    assert again.sent == 1
    assert [r.message["Message-ID"] for r in smtp.received].count(handed.message_id) == 2
    with session_scope(engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "mail.requeued"))
    assert event.reason == "not in the log" and event.details["from"] == "in_doubt"


def test_the_smtp_password_is_used_but_never_shown_stored_or_logged(
    engine, capsys, caplog, monkeypatch
):
    secret = "Pa55-w0rd-do-not-leak"
    caplog.set_level(logging.DEBUG)
    queue(engine, "ready:P-1")
    queue(engine, "ready:P-2", pilot_id="P-2")
    url = engine.url.render_as_string(hide_password=False)
    with SmtpServer(username="ngc", password=secret) as server:
        monkeypatch.setenv("NGC_PILOT_MAIL__SMTP_PORT", str(server.port))
        monkeypatch.setenv("NGC_PILOT_MAIL__USERNAME", "ngc")
        monkeypatch.setenv("NGC_PILOT_MAIL__PASSWORD", "wrong-" + secret)
        monkeypatch.setenv("NGC_PILOT_MAIL__BACKOFF_SECONDS", "0")
        assert run(["--db", url, "outbox", "send", "--json"]) == 1
        refused = capsys.readouterr()
        assert "535" in json.loads(refused.out)["error"]
        monkeypatch.setenv("NGC_PILOT_MAIL__PASSWORD", secret)
        assert run(["--db", url, "outbox", "send"]) == 0
        assert len(server.received) == 2 and server.logins[-1] == "ngc"
        assert "refused" in server.logins  # smtplib tried PLAIN, then LOGIN
    assert run(["--db", url, "outbox", "--json"]) == 0
    shown = refused.out + refused.err + capsys.readouterr().out + caplog.text
    shown += repr(build_settings()) + str(build_settings().model_dump())
    with engine.connect() as conn:
        for table in ("outbox_message", "audit_event", "job_run"):
            shown += " ".join(str(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
    assert secret not in shown


def _invoice(session, pilot_id: str, listed: str, charged: str) -> None:
    inv = Invoice(
        pilot_id=pilot_id,
        month="2026-11",
        revision=1,
        final=True,
        list_total=Decimal(listed),
        discount_total=Decimal(listed) - Decimal(charged),
        charged_total=Decimal(charged),
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
            quantity=Decimal("720"),
            unit="h",
            unit_price=Decimal("0.25"),
            list_amount=Decimal(listed),
            discount=Decimal(listed) - Decimal(charged),
            charged=Decimal(charged),
        )
    )


def test_the_monthly_statement_reaches_each_pi_once_with_its_lines(engine, smtp, capsys):
    with session_scope(engine) as session:
        _invoice(session, "P-1", "180.00", "0.00")
    url = engine.url.render_as_string(hide_password=False)
    assert run(["--db", url, "statement", "--month", "2026-11", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [entry] = data["queued"]
    assert entry["key"] == "statement:P-1:2026-11"
    assert (entry["list_total"], entry["discount_total"], entry["charged_total"]) == (
        "180.00",
        "180.00",
        "0.00",
    )
    assert run(["--db", url, "statement", "--month", "2026-11", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["already_queued"] == ["P-1"]
    assert run(["--db", url, "statement", "--month", "2026-13"]) == 2
    err = capsys.readouterr().err
    assert "--month" in err and "2026-13" in err
    assert mail.send_due(engine, settings_for(smtp), actor="t").sent == 1
    [got] = smtp.received
    body = got.message.get_body().get_content()
    assert "2026-11" in got.message["Subject"] and "180.00 DKK" in body and "0.00" in body
    [csv_file] = list(got.message.iter_attachments())
    assert csv_file.get_filename() == "statement-P-1-2026-11.csv"
    assert "vcpu_hours" in csv_file.get_content() and "180.00" in csv_file.get_content()


def test_the_facade_lists_sends_and_requeues_the_outbox_without_the_cli(engine, smtp):
    from ngc_pilot.facade import Services
    from policies.selection_policy import default_policy_path, parse_policy

    queue(engine, "ready:P-1")
    queue(engine, "ready:P-2", pilot_id="P-2")
    settings = build_settings(
        overrides={
            "mail": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "sender": "ngc@example.org"}
        }
    )
    services = Services(
        engine=engine,
        policy=parse_policy(default_policy_path().read_text()),
        actor="desk",
        settings=settings,
    )
    assert [r["key"] for r in services.mail_outbox(pilot_id="P-2")] == ["ready:P-2"]
    with pytest.raises(InputError) as refused:
        services.mail_outbox(status="lost")
    [problem] = refused.value.problems
    assert problem.field == "status" and problem.value == "lost"  # the domain's name, not a flag
    sent = services.send_mail()
    assert sent["sent"] == 2 and sent["error"] is None
    assert {r["status"] for r in services.mail_outbox()} == {"sent"}
    with pytest.raises(InputError):  # only a failed or in-doubt message goes back in the queue
        services.requeue_mail("ready:P-1", "again")
    assert {r["status"] for r in services.mail_outbox(status="queued")} == set()
