"""The e-mail one outbox row becomes, and its stable Message-ID.

Why this exists: the Message-ID is derived from the outbox key alone, so a
message sent again after a sender died (see :mod:`ngc_pilot.mail.sending`)
carries the same Message-ID and receivers and mail stores that deduplicate
by it show it once.  It deliberately talks to no server and no database.
"""

from __future__ import annotations

import base64
import hashlib
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from ngc_pilot.db import utcnow


def domain_of(sender: str) -> str:
    return sender.rpartition("@")[2].strip(">") or "ngc-pilot"


def message_id_for(key: str, domain: str) -> str:
    """``<digest-of-key@domain>``: the same key always gives the same Message-ID."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.outbox@{domain}>"


def build(
    *,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    message_id: str,
    language: str,
    attachments: list[dict[str, Any]] | None,
    kind: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(utcnow())
    msg["X-NGC-Pilot-Kind"] = kind
    msg.set_content(body)
    for item in attachments or []:
        maintype, _, subtype = item.get("content_type", "application/octet-stream").partition("/")
        msg.add_attachment(
            base64.b64decode(item["data"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=item["name"],
        )
    # After the attachments: making the message multipart moves Content-* headers inward.
    msg["Content-Language"] = language
    return msg
