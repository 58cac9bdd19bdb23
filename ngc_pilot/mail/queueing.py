"""Queueing a notice: rendered now, recorded once per key, sent later.

Why this exists: whatever has something to tell a person (provisioning, the
lifecycle, members, requests, the monthly statement) calls :func:`queue` in
its own transaction, so the notice is recorded together with the change it
is about (a crash loses neither).  The key is the idempotency key: a second
call with the same key records nothing and says so.

Attachments are stored with the row (name, content type, base64 bytes)
rather than as paths: the sender may run hours later on another replica,
where a path may not exist or may since have changed, and a retry must send
the very bytes that were queued.  They are bounded (5 MB per message).  Never
attach a secret in plain text: the bundle code encrypts before it attaches.

It deliberately sends nothing (:mod:`ngc_pilot.mail.sending` does).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from ngc_pilot import audit
from ngc_pilot.errors import InputError
from ngc_pilot.mail.rendering import check_language, render, template_for
from ngc_pilot.models import OutboxMessage
from policies.problems import Problem

ATTACHMENTS_MAX_BYTES = 5 * 1024 * 1024
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


@dataclass(frozen=True)
class Attachment:
    """A file to send with a notice."""

    name: str
    data: bytes
    content_type: str = "application/octet-stream"

    @classmethod
    def from_path(cls, path: Path, content_type: str = "application/octet-stream") -> Attachment:
        return cls(path.name, path.read_bytes(), content_type)

    def stored(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "content_type": self.content_type,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


@dataclass(frozen=True)
class Queued:
    key: str
    created: bool  # False: a notice with this key was already recorded

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "created": self.created}


def check_recipient(recipient: str) -> str:
    if len(recipient) > 254 or not _ADDRESS.match(recipient):
        raise InputError(
            [Problem("notice", "recipient", recipient, "an e-mail address like name@example.org")]
        )
    return recipient


def queue(
    session: Session,
    *,
    key: str,
    kind: str,
    recipient: str,
    language: str = "da",
    context: dict[str, Any],
    pilot_id: str | None = None,
    attachments: Iterable[Attachment | Path] = (),
) -> Queued:
    """Render the ``kind`` notice in ``language`` and record it under ``key``, once.

    Runs in the caller's transaction (nothing is committed here).  Raises
    :class:`InputError` for an unknown kind or language, a malformed address
    or too large attachments, before anything is written.
    """
    if not key or len(key) > 200:
        raise InputError([Problem("notice", "key", key, "1 to 200 characters are allowed")])
    check_language(language)
    check_recipient(recipient)
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first():
        return Queued(key, False)
    files = [a if isinstance(a, Attachment) else Attachment.from_path(a) for a in attachments]
    size = sum(len(a.data) for a in files)
    if size > ATTACHMENTS_MAX_BYTES:
        raise InputError(
            [
                Problem(
                    "notice",
                    "attachments",
                    f"{size} bytes",
                    f"at most {ATTACHMENTS_MAX_BYTES} bytes",
                )
            ]
        )
    subject, body = render(template_for(kind), language, context)
    session.add(
        OutboxMessage(
            key=key,
            pilot_id=pilot_id,
            kind=kind,
            recipient=recipient,
            subject=subject,
            body=body,
            language=language,
            attachments=[a.stored() for a in files] or None,
        )
    )
    return Queued(key, True)


def requeue(session: Session, key: str, *, actor: str, reason: str) -> None:
    """Put a ``failed`` or ``in_doubt`` message back in the queue, by a person's decision.

    It keeps its Message-ID (a receiver that got an in-doubt first copy can
    tell) and gets a fresh set of attempts.  Audited with the reason.
    """
    if not reason.strip():
        raise InputError([Problem("notice", "reason", reason, "say why it is sent again")])
    message = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()
    if message is None:
        raise InputError([Problem("notice", "key", key, "no message with this key in the outbox")])
    if message.status not in ("failed", "in_doubt"):
        raise InputError(
            [
                Problem(
                    "notice",
                    "key",
                    key,
                    f"the message is {message.status}; only failed or in_doubt ones are re-queued",
                )
            ]
        )
    before = message.status
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = None
    session.add(message)
    audit.record(
        session,
        actor=actor,
        action="mail.requeued",
        subject=key,
        reason=reason,
        details={
            "from": before,
            "message_id": message.message_id,
            "last_error": message.last_error,
        },
    )
