"""Reading the outbox: what was recorded to be sent, and how its delivery went.

Why this exists: operators (``ngc-pilot outbox``), the ``mail`` job's summary
and ``/metrics`` need to see each message's status, attempts and last error;
a message failed for good must be visible, not just logged.  It deliberately
writes nothing and sends nothing, and never shows attachment contents (only
their names and sizes).
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from ngc_pilot.models import OutboxMessage

STATUSES = ("queued", "claimed", "sending", "sent", "failed", "in_doubt")
"""Every status a message can be in (see :mod:`ngc_pilot.mail.sending`)."""


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def outbox(
    session: Session, pilot_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """The recorded notices, oldest first (``pilot_id``/``status`` narrow it)."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if pilot_id:
        query = query.where(OutboxMessage.pilot_id == pilot_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    return [
        {
            "id": m.id,
            "key": m.key,
            "pilot": m.pilot_id,
            "kind": m.kind,
            "recipient": m.recipient,
            "language": m.language,
            "subject": m.subject,
            "body": m.body,
            "attachments": [
                {
                    "name": a["name"],
                    "content_type": a.get("content_type"),
                    "bytes": len(base64.b64decode(a["data"])),
                }
                for a in (m.attachments or [])
            ],
            "status": m.status,
            "attempts": m.attempts,
            "next_attempt_at": _iso(m.next_attempt_at),
            "last_error": m.last_error,
            "message_id": m.message_id,
            "created_at": m.created_at.isoformat(),
            "sent_at": _iso(m.sent_at),
        }
        for m in session.execute(query).scalars().all()
    ]


def outbox_counts(engine: Engine) -> dict[str, int]:
    """Messages per status (every status present, zeros included)."""
    counts = dict.fromkeys(STATUSES, 0)
    with engine.connect() as conn:
        for status, n in conn.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ):
            counts[status] = int(n)
    return counts
