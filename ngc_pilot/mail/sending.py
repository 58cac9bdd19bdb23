"""Sending the outbox through SMTP, each message at most once per Message-ID.

How a message moves (``outbox_message.status``):

* ``queued`` -> ``sending``: a sender *claims* up to ``mail.batch`` due rows
  in one short transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so replicas never claim the same row; on SQLite the guarded
  ``UPDATE ... WHERE status = 'queued'`` and the database's single writer do
  the same), counting an attempt and stamping ``claimed_at``.
* ``sending`` -> ``sent``: each message is confirmed in its own transaction
  right after the server accepted it (``250`` to its ``DATA``), so a killed
  sender leaves at most one message whose fate it did not record.
* a refusal: ``5xx`` is final (``failed``); ``4xx``, a dropped connection or
  an unreachable server is retried (``queued`` again at ``next_attempt_at``,
  waiting ``backoff_seconds * 2**(attempts-1)``, at most
  ``backoff_max_seconds``) until ``max_attempts``, then ``failed``.
  ``last_error`` says why, in the server's words (never our credentials).

**The in-doubt rule.**  A row still ``sending`` ``mail.in_doubt_seconds``
after its claim belongs to a sender that died (no SMTP exchange takes that
long).  Either it never reached the server (the rest of the dead sender's
batch) or it did and the confirmation was lost (at most the one message in
flight).  It is claimed again and sent again *with the same Message-ID*
(derived from the key, :mod:`ngc_pilot.mail.message`), so in the rare second
case the receiver's mail store shows it once.  The re-send is audited
(``mail.resent_in_doubt``) and counted in the report.  We prefer this to
never re-sending: a silent loss of a 50-message batch is worse than one
message with a duplicate Message-ID.

What it deliberately does not do: render (rows arrive rendered), decide who
is told what, or hold a message in memory across runs.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, or_, select, update
from sqlmodel import Session, col

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.mail.message import build, domain_of, message_id_for
from ngc_pilot.models import OutboxMessage
from ngc_pilot.settings import MailSettings

STATUSES = ("queued", "sending", "sent", "failed")


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # failed for good in this run
    resent_in_doubt: int = 0
    error: str | None = None  # the server could not be reached or refused us
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "resent_in_doubt": self.resent_in_doubt,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "failures": self.failures,
        }


@dataclass
class _Claimed:
    id: int
    key: str
    kind: str
    pilot_id: str | None
    recipient: str
    subject: str
    body: str
    language: str
    attachments: list[dict[str, Any]] | None
    message_id: str
    attempts: int
    claimed_at: datetime
    in_doubt: bool


class _ServerError(Exception):
    """Connecting, STARTTLS or logging in failed: no message was handed over."""


def backoff(mail: MailSettings, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return min(mail.backoff_seconds * 2 ** max(attempts - 1, 0), mail.backoff_max_seconds)


def _due(now: datetime, mail: MailSettings, retry_until: datetime | None = None) -> Any:
    doubt_before = now - timedelta(seconds=mail.in_doubt_seconds)
    retry_until = now if retry_until is None else retry_until
    return or_(
        and_(
            col(OutboxMessage.status) == "queued",
            or_(
                col(OutboxMessage.next_attempt_at).is_(None),
                col(OutboxMessage.next_attempt_at) <= retry_until,
            ),
        ),
        and_(
            col(OutboxMessage.status) == "sending",
            col(OutboxMessage.claimed_at) <= doubt_before,
        ),
    )


def claim(
    engine: Engine, mail: MailSettings, now: datetime, retry_until: datetime | None = None
) -> list[_Claimed]:
    """Claim up to ``mail.batch`` due messages (see the module doc); commits.

    A message waiting for a retry is due once ``next_attempt_at`` is at most
    ``retry_until`` (default ``now``): a run passes the moment before it started,
    so that it never retries within itself what it has just failed to send.
    """
    domain = domain_of(mail.sender)
    with Session(engine) as session, session.begin():
        query = (
            select(
                OutboxMessage.id, OutboxMessage.status, OutboxMessage.key, OutboxMessage.message_id
            )
            .where(_due(now, mail, retry_until))
            .order_by(col(OutboxMessage.id))
            .limit(mail.batch)
        )
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidates = session.execute(query).all()
        # One guarded UPDATE for the batch: a row another sender took meanwhile
        # (SQLite has no SKIP LOCKED) no longer matches ``_due`` and is not returned.
        was_sending = {row_id: status == "sending" for row_id, status, _, _ in candidates}
        won: dict[int, bool] = {}
        if candidates:
            message_ids = {
                row_id: message_id or message_id_for(key, domain)
                for row_id, _, key, message_id in candidates
            }
            returned = session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(list(message_ids)), _due(now, mail, retry_until))
                .values(
                    status="sending",
                    claimed_at=now,
                    attempts=OutboxMessage.attempts + 1,
                    message_id=case(message_ids, value=OutboxMessage.id),
                )
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).scalars()
            won = {row_id: was_sending[row_id] for row_id in returned}
        if not won:
            return []
        rows = session.execute(
            select(OutboxMessage)
            .where(col(OutboxMessage.id).in_(list(won)))
            .order_by(col(OutboxMessage.id))
        ).scalars()
        claimed = [
            _Claimed(
                m.id,
                m.key,
                m.kind,
                m.pilot_id,
                m.recipient,
                m.subject,
                m.body,
                m.language,
                m.attachments,
                m.message_id or "",
                m.attempts,
                now,
                won[m.id],
            )
            for m in rows
        ]
        for c in claimed:
            if c.in_doubt:
                audit.record(
                    session,
                    actor="mail",
                    action="mail.resent_in_doubt",
                    subject=c.key,
                    reason="claimed by a sender that never confirmed it; sent again with the same Message-ID",
                    details={"message_id": c.message_id, "attempt": c.attempts},
                )
        return claimed


def _finish(
    engine: Engine,
    c: _Claimed,
    *,
    actor: str,
    status: str,
    now: datetime,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record the outcome of one claimed message, if our claim still holds."""
    values: dict[str, Any] = {"status": status, "last_error": error}
    if status == "sent":
        values["sent_at"] = now
    if status == "queued":
        values["next_attempt_at"] = retry_at
    with Session(engine) as session, session.begin():
        result = session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == c.id,
                col(OutboxMessage.status) == "sending",
                col(OutboxMessage.claimed_at) == c.claimed_at,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False  # another sender took it over after the in-doubt timeout
        if status != "queued":
            audit.record(
                session,
                actor=actor,
                action=f"mail.{status}",
                subject=c.key,
                reason=error,
                details={
                    "kind": c.kind,
                    "pilot": c.pilot_id,
                    "recipient": c.recipient,
                    "message_id": c.message_id,
                    "attempts": c.attempts,
                },
            )
    return True


def _describe(exc: BaseException) -> tuple[bool, str]:
    """(final?, why) for a failure to send one message, in the server's words."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return 500 <= code < 600, f"{code} {_text(text)}"[:500]
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return 500 <= code < 600, f"{code} {_text(exc.smtp_error)}"[:500]
    return False, f"{type(exc).__name__}: {exc}"[:500]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def connect(mail: MailSettings) -> smtplib.SMTP:
    """An SMTP connection, upgraded and logged in as the settings say."""
    try:
        smtp = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds)
    except (OSError, smtplib.SMTPException) as exc:
        raise _ServerError(
            f"cannot reach the SMTP server {mail.smtp_host}:{mail.smtp_port} ({type(exc).__name__}: {exc})"
        ) from None
    try:
        if mail.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if mail.username:
            smtp.login(mail.username, mail.password.get_secret_value())
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        final, why = _describe(exc)
        step = "logging in as " + mail.username if mail.username else "STARTTLS"
        # ``why`` is the server's reply or the exception's type: never the password.
        raise _ServerError(
            f"SMTP server {mail.smtp_host}:{mail.smtp_port}: {step} failed ({why})"
        ) from None
    return smtp


def send_due(
    engine: Engine,
    mail: MailSettings,
    *,
    actor: str,
    clock: Callable[[], datetime] = utcnow,
    limit: int | None = None,
    connector: Callable[[MailSettings], smtplib.SMTP] = connect,
) -> SendReport:
    """Send every due message (or at most ``limit``); see the module doc for the rules."""
    started = time.perf_counter()
    report = SendReport()
    smtp: smtplib.SMTP | None = None
    retry_until = clock() - timedelta(microseconds=1)
    try:
        while limit is None or report.claimed < limit:
            now = clock()
            batch = claim(engine, mail, now, retry_until)
            if not batch:
                break
            report.claimed += len(batch)
            report.resent_in_doubt += sum(c.in_doubt for c in batch)
            for index, c in enumerate(batch):
                try:
                    if smtp is None:
                        smtp = connector(mail)
                except _ServerError as exc:
                    report.error = str(exc)
                    for rest in batch[index:]:
                        _failed_attempt(engine, mail, rest, str(exc), False, actor, clock(), report)
                    return report
                try:
                    smtp.send_message(
                        build(
                            sender=mail.sender,
                            recipient=c.recipient,
                            subject=c.subject,
                            body=c.body,
                            message_id=c.message_id,
                            language=c.language,
                            attachments=c.attachments,
                            kind=c.kind,
                        ),
                        from_addr=mail.sender,
                        to_addrs=[c.recipient],
                    )
                except (OSError, smtplib.SMTPException) as exc:
                    final, why = _describe(exc)
                    _failed_attempt(engine, mail, c, why, final, actor, clock(), report)
                    if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                        _close(smtp)
                        smtp = None
                    continue
                if _finish(engine, c, actor=actor, status="sent", now=clock()):
                    report.sent += 1
    finally:
        if smtp is not None:
            _close(smtp)
        report.seconds = time.perf_counter() - started
    return report


def _failed_attempt(
    engine: Engine,
    mail: MailSettings,
    c: _Claimed,
    why: str,
    final: bool,
    actor: str,
    now: datetime,
    report: SendReport,
) -> None:
    if final or c.attempts >= mail.max_attempts:
        if _finish(engine, c, actor=actor, status="failed", now=now, error=why):
            report.failed += 1
            report.failures.append({"key": c.key, "attempts": c.attempts, "error": why})
        return
    retry_at = now + timedelta(seconds=backoff(mail, c.attempts))
    if _finish(engine, c, actor=actor, status="queued", now=now, error=why, retry_at=retry_at):
        report.retrying += 1


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
