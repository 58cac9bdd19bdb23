"""A sender killed with SIGKILL mid-run, on SQLite and PostgreSQL: nothing reaches
the SMTP server twice, and at most ``mail.hand_over`` messages are left in doubt.

The sender runs in a child process against a real SMTP server on 127.0.0.1
(aiosmtpd) that holds its reply once it has received 30 messages, so the
kill lands at a known point: the first group of 20 recorded as sent, the
second group marked as being handed over (10 of it received), the rest of
the claimed batch never handed over.  A second sender then takes over as
if the in-doubt timeout had passed.  Also: a sender that stops on an
exception puts back what it marked but never tried.
"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select
from support.smtpserver import SmtpServer

from ngc_pilot import mail
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.mail.smtp import connect
from ngc_pilot.models import AuditEvent, OutboxMessage
from ngc_pilot.settings import MailSettings

pytestmark = [
    pytest.mark.migrated,
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning"),
]

REPO = Path(__file__).resolve().parents[2]
N = 120
CONTEXT = {
    "pi_name": "Ada Lovelace",
    "pilot": "P-1",
    "title": "Genomes",
    "project": "ngc-p-1",
    "last_day": "2027-03-31",
    "support_contact": "support@example.org",
}
SENDER = """
import sys
from ngc_pilot import mail
from ngc_pilot.db import make_engine
from ngc_pilot.settings import MailSettings
settings = MailSettings(
    smtp_host="127.0.0.1", smtp_port=int(sys.argv[2]), sender="ngc@example.org",
    batch=50, hand_over=20,
)
mail.send_due(make_engine(sys.argv[1]), settings, actor="dying")
"""


@pytest.fixture
def engine(database):
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        for i in range(N):
            mail.queue(
                session,
                key=f"ready:{i:03d}",
                kind="tenant_ready",
                recipient=f"pi{i}@example.org",
                language="da" if i % 2 else "en",
                context=CONTEXT,
            )
    yield engine
    engine.dispose()


def statuses(engine) -> dict[str, OutboxMessage]:
    with session_scope(engine) as session:
        return {m.key: m for m in session.exec(select(OutboxMessage)).all()}


def counts(engine) -> dict[str, int]:
    return {k: v for k, v in mail.outbox_counts(engine).items() if v}


def test_a_sender_killed_mid_group_sends_nothing_twice_and_leaves_at_most_k_in_doubt(engine):
    url = engine.url.render_as_string(hide_password=False)
    with SmtpServer() as smtp:
        smtp.hold_after(30)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
        child = subprocess.Popen([sys.executable, "-c", SENDER, url, str(smtp.port)], env=env)
        try:
            deadline = time.monotonic() + 120  # a guard against hanging, not a timed assertion
            while len(smtp.received) < 30 and child.poll() is None:
                assert time.monotonic() < deadline, "the sender never reached the 30th message"
                time.sleep(0.01)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL
        # Killed while the server held its reply to the 31st message.
        assert counts(engine) == {"sent": 20, "sending": 20, "claimed": 10, "queued": N - 50}
        smtp.release()

        settings = MailSettings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, sender="ngc@example.org", in_doubt_seconds=0
        )
        after = mail.send_due(engine, settings, actor="next")
        assert (after.in_doubt, after.reclaimed, after.sent) == (20, 10, N - 40)
        received = [r.message["Message-ID"] for r in smtp.received]

    assert len(received) == len(set(received))  # none twice
    rows = statuses(engine)
    assert counts(engine) == {"sent": N - 20, "in_doubt": 20}
    sent_ids = {m.message_id for m in rows.values() if m.status == "sent"}
    doubt_ids = {m.message_id for m in rows.values() if m.status == "in_doubt"}
    assert sent_ids <= set(received)  # every message recorded as sent arrived, once
    assert set(received) - sent_ids <= doubt_ids  # what else arrived is among the in-doubt ones
    assert len(set(received) & doubt_ids) >= 10  # 10 of the in-doubt group had arrived
    assert all(rows[f"ready:{i:03d}"].status == "in_doubt" for i in range(20, 40))
    with session_scope(engine) as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("mail.sent") == N - 20
    assert (actions.count("mail.in_doubt"), actions.count("mail.reclaimed")) == (20, 10)


class _Breaks(smtplib.SMTP):
    """A real connection whose third message raises an error that is no SMTP failure."""

    calls = 0

    def send_message(self, *args, **kwargs):  # type: ignore[override]
        type(self).calls += 1
        if type(self).calls == 3:
            raise RuntimeError("the sender itself broke")
        return super().send_message(*args, **kwargs)


def test_a_sender_stopped_by_an_exception_puts_back_what_it_never_tried(engine):
    _Breaks.calls = 0
    with SmtpServer() as smtp:
        settings = MailSettings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, sender="ngc@example.org", batch=50
        )

        def connector(mail_settings: MailSettings) -> smtplib.SMTP:
            conn = connect(mail_settings)
            conn.__class__ = _Breaks
            return conn

        with pytest.raises(RuntimeError):
            mail.send_due(engine, settings, actor="t", connector=connector)
        assert len(smtp.received) == 2
    rows = statuses(engine)
    # The two the server accepted are recorded; the one that broke may have gone
    # out (in doubt later); the 17 marked with it but never tried are claimed again.
    assert [rows[f"ready:{i:03d}"].status for i in range(3)] == ["sent", "sent", "sending"]
    assert {rows[f"ready:{i:03d}"].status for i in range(3, 50)} == {"claimed"}
    assert counts(engine) == {"sent": 2, "sending": 1, "claimed": 47, "queued": N - 50}


class _Drops(smtplib.SMTP):
    """A real connection that is dropped while its third message is being sent."""

    calls = 0

    def send_message(self, *args, **kwargs):  # type: ignore[override]
        type(self).calls += 1
        if type(self).calls == 3:
            self.close()
            raise smtplib.SMTPServerDisconnected("connection dropped")
        return super().send_message(*args, **kwargs)


def test_a_connection_dropped_mid_group_is_reopened_for_the_rest_of_it(engine):
    _Drops.calls = 0
    with SmtpServer() as smtp:
        settings = MailSettings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, sender="ngc@example.org", batch=50
        )
        opened = []

        def connector(mail_settings: MailSettings) -> smtplib.SMTP:
            conn = connect(mail_settings)
            conn.__class__ = _Drops
            opened.append(conn)
            return conn

        report = mail.send_due(engine, settings, actor="t", connector=connector)
        received = [r.message["Message-ID"] for r in smtp.received]
    assert (report.sent, report.retrying, len(opened)) == (N - 1, 1, 2)
    assert len(received) == len(set(received)) == N - 1
    rows = statuses(engine)
    dropped = rows["ready:002"]
    assert dropped.status == "queued" and dropped.attempts == 1 and "dropped" in dropped.last_error
    assert counts(engine) == {"sent": N - 1, "queued": 1}
