"""Sending the outbox through SMTP, each message at most once.

How a message moves (``outbox_message.status``):

* ``queued`` -> ``claimed``: a sender claims up to ``mail.batch`` due rows in
  one short transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL,
  so replicas never claim the same row; on SQLite one guarded ``UPDATE``
  under the database's single writer does the same), counting an attempt,
  stamping ``claimed_at`` and the Message-ID.
* ``claimed`` -> ``sending``: committed just *before* the messages are
  handed to the server, ``mail.hand_over`` (*k*, default 20) at a time, in
  the same transaction that confirms the *k* before them (so the mark costs
  no extra commit).
* ``sending`` -> ``sent``: committed after the server's ``250`` for the
  whole group of *k* — one ``UPDATE`` for the group, its audit rows in one
  bulk insert (:func:`ngc_pilot.audit.record_many`), in the commit that marks
  the next group.

* a refusal: ``5xx`` is final (``failed``); ``4xx``, a dropped connection or
  an unreachable server is retried (``queued`` again at ``next_attempt_at``,
  waiting ``backoff_seconds * 2**(attempts-1)``, at most
  ``backoff_max_seconds``) until ``max_attempts``, then ``failed``.
  ``last_error`` says why, in the server's words (never our credentials).

Why *k* messages per commit and not one (profiled): a commit waits for the
disk (the WAL flush on PostgreSQL, the journal sync on SQLite), 2–20 ms on
the shared machine, as much as or more than the SMTP exchange of a message;
one commit per message made 1,000 messages take 10–25 s under load, one per
*k* = 20 leaves SMTP and building the messages as the cost.  The price is
the bound of the in-doubt rule below: a sender killed mid-run leaves up to
*k* messages ``in_doubt`` instead of one.  ``hand_over = 1`` is the strict
setting (one in doubt at most, a commit per message).

**The in-doubt rule** (a sender killed mid-run).  After
``mail.in_doubt_seconds`` (longer than any SMTP exchange):

* a row still ``claimed`` was never handed to a server: it is claimed again
  and sent — no duplicate is possible;
* a row still ``sending`` was marked as being handed over and its reply
  never recorded (at most ``hand_over`` per dead sender: the group in
  flight, each of which may or may not have been handed over): it may have
  arrived.  It is **not** re-sent; it becomes ``in_doubt`` — audited
  (``mail.in_doubt``), counted in ``/metrics`` and the ``mail`` job's
  failures, listed by ``outbox --status in_doubt``.  An operator who finds it missing in the mail server's log
  re-queues it with ``ngc-pilot outbox retry KEY --reason ...``; it then goes
  out with the same Message-ID (derived from the key), so a receiver that did
  get the first copy can tell.

A sender that stops on an exception (not a kill) puts the messages it had
marked but not yet tried back to ``claimed``, so only what it really handed
over can become ``in_doubt``.

So a message reaches the SMTP server at most once unless a person decides
otherwise.  A connection dropped while a message is being sent is retried:
the server had not said ``250``, so it has not taken the message (the rare
"reply lost after acceptance" case, RFC 1047, is the one exception, as for
every SMTP client).

What it deliberately does not do: render (rows arrive rendered), decide who
is told what, or hold a message in memory across runs.  The connection and
the reading of SMTP failures are :mod:`ngc_pilot.mail.smtp`.

Why it is one module of over 500 lines: the claim, the hand-over mark, the
confirmation and the in-doubt sweep are one protocol whose guards (``status``
and ``claimed_at``) must agree with each other; split, one could change
without the others.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.mail.message import build, domain_of, message_id_for
from ngc_pilot.mail.smtp import ServerError, close, connect, describe_failure
from ngc_pilot.models import OutboxMessage
from ngc_pilot.settings import MailSettings

log = logging.getLogger(__name__)
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]  # Core: the hot path skips the ORM


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # failed for good in this run
    in_doubt: int = 0  # found handed over by a dead sender, not re-sent
    reclaimed: int = 0  # claimed by a dead sender, never handed over: sent now
    error: str | None = None  # the server could not be reached or refused us
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "in_doubt": self.in_doubt,
            "reclaimed": self.reclaimed,
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
    reclaimed: bool
    handed: bool = False  # marked ``sending`` by this sender


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
            col(OutboxMessage.status) == "claimed",
            col(OutboxMessage.claimed_at) <= doubt_before,
        ),
    )


def settle_in_doubt(engine: Engine, mail: MailSettings, now: datetime) -> list[str]:
    """Mark ``in_doubt`` (and audit) every message a dead sender handed over
    without recording the reply; returns their keys."""
    doubt_before = now - timedelta(seconds=mail.in_doubt_seconds)
    why = (
        "in doubt: handed to the SMTP server by a sender that stopped before recording "
        "the reply; not re-sent (it may have arrived): check the mail server's log, then "
        "`ngc-pilot outbox retry KEY --reason ...` if it is missing"
    )
    with Session(engine) as session, session.begin():
        rows = session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.status) == "sending",
                col(OutboxMessage.claimed_at) <= doubt_before,
            )
            .values(status="in_doubt", last_error=why)
            .returning(OutboxMessage.key, OutboxMessage.message_id, OutboxMessage.attempts)
            .execution_options(synchronize_session=False)
        ).all()
        audit.record_many(
            session,
            (
                audit.Entry(
                    actor="mail",
                    action="mail.in_doubt",
                    subject=key,
                    reason=why,
                    details={"message_id": message_id, "attempts": attempts},
                )
                for key, message_id, attempts in rows
            ),
            at=now,
        )
    return [key for key, _, _ in rows]


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
        was_claimed = {row_id: status == "claimed" for row_id, status, _, _ in candidates}
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
                    status="claimed",
                    claimed_at=now,
                    attempts=OutboxMessage.attempts + 1,
                    message_id=case(message_ids, value=OutboxMessage.id),
                )
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).scalars()
            won = {row_id: was_claimed[row_id] for row_id in returned}
        if not won:
            return []
        rows = session.execute(
            select(
                OUTBOX.c.id,
                OUTBOX.c.key,
                OUTBOX.c.kind,
                OUTBOX.c.pilot_id,
                OUTBOX.c.recipient,
                OUTBOX.c.subject,
                OUTBOX.c.body,
                OUTBOX.c.language,
                OUTBOX.c.attachments,
                OUTBOX.c.message_id,
                OUTBOX.c.attempts,
            )
            .where(OUTBOX.c.id.in_(list(won)))
            .order_by(OUTBOX.c.id)
        ).all()
        claimed = [
            _Claimed(*row[:9], row.message_id or "", row.attempts, now, won[row.id]) for row in rows
        ]
        audit.record_many(
            session,
            (
                audit.Entry(
                    actor="mail",
                    action="mail.reclaimed",
                    subject=c.key,
                    reason="claimed by a sender that stopped before handing it to the server",
                    details={"message_id": c.message_id, "attempt": c.attempts},
                )
                for c in claimed
                if c.reclaimed
            ),
            at=now,
        )
        return claimed


def _finish(
    session: Session,
    c: _Claimed,
    *,
    actor: str,
    status: str,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record a failed attempt (``queued`` again or ``failed``) of one claimed
    message, if our claim still holds; one commit (failures are rare)."""
    values: dict[str, Any] = {"status": status, "last_error": error}
    if status == "queued":
        values["next_attempt_at"] = retry_at
    with session.begin():
        result = session.connection().execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.id == c.id,
                OUTBOX.c.status.in_(("claimed", "sending")),
                OUTBOX.c.claimed_at == c.claimed_at,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            return False  # no longer ours (another sender took it after the timeout)
        if status != "queued":
            audit.record(
                session,
                actor=actor,
                action=f"mail.{status}",
                subject=c.key,
                reason=error,
                details=_details(c),
            )
    return True


def _details(c: _Claimed) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "pilot": c.pilot_id,
        "recipient": c.recipient,
        "message_id": c.message_id,
        "attempts": c.attempts,
    }


def _by_claim(messages: list[_Claimed]) -> dict[datetime, list[_Claimed]]:
    groups: dict[datetime, list[_Claimed]] = {}
    for c in messages:
        groups.setdefault(c.claimed_at, []).append(c)
    return groups


def _commit_group(
    session: Session,
    *,
    sent: list[_Claimed],
    hand: list[_Claimed],
    actor: str,
    now: datetime,
) -> int:
    """One commit: ``sent`` recorded as sent (one ``UPDATE``, their audit rows
    in one bulk insert) and ``hand`` marked ``sending`` (one ``UPDATE``), each
    only where our claim still holds.  Sets ``handed`` on ``hand``; returns
    how many of ``sent`` were recorded."""
    recorded: list[_Claimed] = []
    with session.begin():
        connection = session.connection()
        for claimed_at, group in _by_claim(sent).items():
            ours = set(
                connection.execute(
                    update(OUTBOX)
                    .where(
                        OUTBOX.c.id.in_([c.id for c in group]),
                        # The server's 250 in hand beats an in-doubt mark made meanwhile.
                        OUTBOX.c.status.in_(("claimed", "sending", "in_doubt")),
                        OUTBOX.c.claimed_at == claimed_at,
                    )
                    .values(status="sent", last_error=None, sent_at=now)
                    .returning(OUTBOX.c.id)
                ).scalars()
            )
            recorded += [c for c in group if c.id in ours]
        audit.record_many(
            session,
            (
                audit.Entry(actor=actor, action="mail.sent", subject=c.key, details=_details(c))
                for c in recorded
            ),
            at=now,
        )
        for claimed_at, group in _by_claim(hand).items():
            marked = set(
                connection.execute(
                    update(OUTBOX)
                    .where(
                        OUTBOX.c.id.in_([c.id for c in group]),
                        OUTBOX.c.status == "claimed",
                        OUTBOX.c.claimed_at == claimed_at,
                    )
                    .values(status="sending")
                    .returning(OUTBOX.c.id)
                ).scalars()
            )
            for c in group:
                c.handed = c.id in marked
    return len(recorded)


def _unmark(session: Session, untried: list[_Claimed]) -> None:
    """Back to ``claimed``: marked ``sending`` by this sender but never handed over."""
    with session.begin():
        for claimed_at, group in _by_claim(untried).items():
            session.connection().execute(
                update(OUTBOX)
                .where(
                    OUTBOX.c.id.in_([c.id for c in group]),
                    OUTBOX.c.status == "sending",
                    OUTBOX.c.claimed_at == claimed_at,
                )
                .values(status="claimed")
            )


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
    session = Session(engine)  # one connection for the confirmations of this run
    group = max(1, min(mail.hand_over, mail.batch))
    pending: list[_Claimed] = []  # accepted by the server, not yet recorded
    untried: list[_Claimed] = []  # marked ``sending`` by us, not yet handed over

    def commit(hand: list[_Claimed]) -> None:
        """Record ``pending`` as sent and mark ``hand`` as handed over, in one commit."""
        nonlocal pending
        done, pending = pending, []
        if done or hand:
            report.sent += _commit_group(session, sent=done, hand=hand, actor=actor, now=clock())

    def give_up(rest: list[_Claimed], why: str) -> None:
        commit([])
        report.error = why
        for c in rest:
            _failed_attempt(session, mail, c, why, False, actor, clock(), report)

    retry_until = clock() - timedelta(microseconds=1)
    try:
        for key in settle_in_doubt(engine, mail, clock()):
            report.in_doubt += 1
            report.failures.append({"key": key, "attempts": None, "error": "in doubt"})
        while limit is None or report.claimed < limit:
            batch = claim(engine, mail, clock(), retry_until)
            if not batch:
                break
            report.claimed += len(batch)
            report.reclaimed += sum(c.reclaimed for c in batch)
            for start in range(0, len(batch), group):
                if smtp is None:
                    try:
                        smtp = connector(mail)
                    except ServerError as exc:
                        give_up(batch[start:], str(exc))
                        return report
                chunk = batch[start : start + group]
                commit(chunk)
                untried = [c for c in chunk if c.handed]  # the others are no longer ours
                while untried:
                    c = untried[0]
                    if smtp is None:  # dropped during this group
                        try:
                            smtp = connector(mail)
                        except ServerError as exc:
                            rest, untried = untried + batch[start + group :], []
                            give_up(rest, str(exc))
                            return report
                    untried.pop(0)
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
                        final, why = describe_failure(exc)
                        _failed_attempt(session, mail, c, why, final, actor, clock(), report)
                        if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                            close(smtp)
                            smtp = None
                        continue
                    pending.append(c)
            commit([])
    finally:
        try:
            commit([])  # what the server accepted is recorded, whatever failed after
            if untried:
                _unmark(session, untried)
        except SQLAlchemyError:
            log.warning("mail: could not record sent messages; they will be in doubt")
        session.close()
        if smtp is not None:
            close(smtp)
        report.seconds = time.perf_counter() - started
    return report


def _failed_attempt(
    session: Session,
    mail: MailSettings,
    c: _Claimed,
    why: str,
    final: bool,
    actor: str,
    now: datetime,
    report: SendReport,
) -> None:
    if final or c.attempts >= mail.max_attempts:
        if _finish(session, c, actor=actor, status="failed", error=why):
            report.failed += 1
            report.failures.append({"key": c.key, "attempts": c.attempts, "error": why})
        return
    retry_at = now + timedelta(seconds=backoff(mail, c.attempts))
    if _finish(session, c, actor=actor, status="queued", error=why, retry_at=retry_at):
        report.retrying += 1
