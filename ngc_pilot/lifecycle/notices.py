"""Reading the outbox: the expiry notices recorded for delivery.

Why this exists: operators and the mail job need to see what was recorded to
be sent, and when it was sent.  It deliberately writes nothing and sends
nothing.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot.models import OutboxMessage


def outbox(session: Session, pilot_id: str | None = None) -> list[dict[str, Any]]:
    """The recorded notices, oldest first."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if pilot_id:
        query = query.where(OutboxMessage.pilot_id == pilot_id)
    return [
        {
            "id": m.id,
            "key": m.key,
            "pilot": m.pilot_id,
            "kind": m.kind,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        }
        for m in session.exec(query).all()
    ]
