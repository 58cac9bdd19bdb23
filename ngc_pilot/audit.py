"""The append-only audit log: who did what, when, to what, and why.

Every state change calls :func:`record` inside the same transaction as the
change itself, so a change and its audit entry commit or roll back together.
Details must never contain secrets; :func:`record` refuses keys that look like
one rather than trusting every caller.  :func:`record_many` is the same front
door for thousands of events at once (a month's invoices): the same refusal,
checked for every event before any is written, then one bulk insert.

Deliberately not here: deciding what is worth auditing (each service does),
and any way to change or delete an event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot import bulk
from ngc_pilot.db import utcnow
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
    details = _checked(details)
    event = AuditEvent(actor=actor, action=action, subject=subject, reason=reason, details=details)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Entry:
    """One event for :func:`record_many`: the keyword arguments of :func:`record`."""

    actor: str
    action: str
    subject: str
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record_many(
    session: Session,
    entries: Iterable[Entry],
    *,
    at: datetime | None = None,
    into: bulk.Send | None = None,
) -> int:
    """:func:`record` for many events in one bulk insert (``COPY`` on PostgreSQL).

    Every entry is checked as :func:`record` checks one, before anything is
    written; all get the same time ``at`` (default: now).  Returns how many
    were written; their ids are not read back.  With ``into`` (the ``send``
    of a :func:`ngc_pilot.bulk.copy_stream` the caller opened after flushing
    its session) the rows go into that stream, after the tables sent before.
    """
    when = at or utcnow()
    rows = [
        {
            "at": when,
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "reason": e.reason,
            "details": _checked(e.details),
        }
        for e in entries
    ]
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    if into is not None:
        into(table, rows)
        return len(rows)
    session.flush()  # events recorded one by one before these keep their order
    bulk.insert_rows(session, table, rows)
    return len(rows)


def _checked(details: dict[str, Any] | None) -> dict[str, Any]:
    details = details or {}
    keys = _walk_keys(details)
    if _CLEAN_KEYS.issuperset(keys):  # a bulk write's events repeat the same few keys
        return details
    leaked = [k for k in keys if _secret_looking(k)]
    if leaked:
        raise ValueError(f"audit details must not carry secrets (keys: {', '.join(leaked)})")
    if len(_CLEAN_KEYS) < _CLEAN_KEYS_MAX:
        _CLEAN_KEYS.update(keys)
    return details


# Keys already found not to look like a secret: one set lookup per event instead of a
# call per key.  Bounded, so that details keyed by data (ids, names) cannot grow it forever.
_CLEAN_KEYS: set[str] = set()
_CLEAN_KEYS_MAX = 4096


@functools.lru_cache(maxsize=4096)
def _secret_looking(key: str) -> bool:
    """Whether ``key`` names a secret; cached, as bulk writes check the same few keys
    thousands of times (a month's invoices: 1,000 events of a dozen keys each)."""
    lowered = key.lower()
    return any(w in lowered for w in _SECRET_WORDS)


def _walk_keys(data: Any, keys: list[str] | None = None) -> list[str]:
    """Every key of every dict in ``data`` (nested in dicts and lists), as text, in order.

    Only containers are descended into: a bulk write checks ~15 keys per event
    for thousands of events, and a call per scalar value was most of its cost.
    """
    keys = [] if keys is None else keys
    if isinstance(data, dict):
        for key, value in data.items():
            keys.append(str(key))
            if isinstance(value, dict | list):
                _walk_keys(value, keys)
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict | list):
                _walk_keys(item, keys)
    return keys


def events(
    session: Session,
    *,
    action: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
) -> Sequence[AuditEvent]:
    """Events oldest first; with ``limit``, only the newest ``limit`` are read."""
    query = select(AuditEvent)
    if action:
        query = query.where(col(AuditEvent.action).startswith(action))
    if subject:
        query = query.where(AuditEvent.subject == subject)
    if not limit:
        return session.exec(query.order_by(col(AuditEvent.id))).all()
    newest = session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
    return list(reversed(newest))


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
