"""The append-only audit log: who did what, when, to what, and why.

Every state change calls :func:`record` inside the same transaction as the
change itself, so a change and its audit entry commit or roll back together.
Details must never contain secrets; :func:`record` refuses keys that look like
one rather than trusting every caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot.models import AuditEvent

_SECRET_WORDS = ("password", "secret", "token", "credential_secret", "private_key")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    details = details or {}
    leaked = [k for k in _walk_keys(details) if any(w in k.lower() for w in _SECRET_WORDS)]
    if leaked:
        raise ValueError(f"audit details must not carry secrets (keys: {', '.join(leaked)})")
    event = AuditEvent(actor=actor, action=action, subject=subject, reason=reason, details=details)
    session.add(event)
    session.flush()
    return event


def _walk_keys(data: Any) -> list[str]:
    keys = []
    if isinstance(data, dict):
        for key, value in data.items():
            keys.append(str(key))
            keys.extend(_walk_keys(value))
    elif isinstance(data, list):
        for item in data:
            keys.extend(_walk_keys(item))
    return keys


def events(
    session: Session,
    *,
    action: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id))
    if action:
        query = query.where(col(AuditEvent.action).startswith(action))
    if subject:
        query = query.where(AuditEvent.subject == subject)
    rows = session.exec(query).all()
    return rows[-limit:] if limit else rows


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "reason": event.reason,
        "details": event.details,
    }
