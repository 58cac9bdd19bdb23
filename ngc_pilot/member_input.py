"""Checking what an operator gives for a member: e-mail, role, language, keys.

Each check returns the cleaned value or a :class:`Problem` naming the field,
the value and what is allowed, so ``members add`` (and a nomination file's
``members:`` list) refuses bad input before anything is written.  Public keys
only: an age recipient (``age1…``) and an OpenSSH public key line.  What this
module deliberately does not do: touch the database or the cloud.
"""

from __future__ import annotations

import base64
import binascii
import re

from policies.problems import Problem
from provisioner.member_bundle import parse_recipient

ROLES = ("member", "reader")
LANGUAGES = ("da", "en")
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def check_email(value: str, source: str = "command line") -> str | Problem:
    text = value.strip()
    if len(text) > 254 or not _EMAIL.match(text) or any(ord(c) < 32 for c in text):
        return Problem(source, "email", value, "expected an e-mail address like name@example.org")
    return text.lower()


def check_choice(field: str, value: str, allowed: tuple[str, ...], source: str) -> str | Problem:
    if value not in allowed:
        return Problem(source, field, value, f"allowed: {', '.join(allowed)}")
    return value


def check_age_recipient(value: str | None, source: str = "command line") -> str | None | Problem:
    if value is None or not value.strip():
        return None
    try:
        parse_recipient(value)
    except ValueError as exc:
        return Problem(source, "age recipient", value, str(exc))
    return value.strip()


def check_ssh_key(value: str | None, source: str = "command line") -> str | None | Problem:
    """One OpenSSH public key line (type, base64 blob whose own type matches, comment)."""
    if value is None or not value.strip():
        return None
    allowed = f"one OpenSSH public key line ({', '.join(SSH_KEY_TYPES[:3])}, …)"
    text = value.strip()
    parts = text.split()
    if "\n" in text or len(parts) < 2 or parts[0] not in SSH_KEY_TYPES or len(text) > 4000:
        return Problem(source, "ssh key", _shown(text), f"expected {allowed}")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return Problem(source, "ssh key", _shown(text), f"expected {allowed}; bad base64")
    n = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if n <= 0 or blob[4 : 4 + n].decode("ascii", "replace") != parts[0]:
        return Problem(
            source,
            "ssh key",
            _shown(text),
            f"expected {allowed}; the key data does not match its type",
        )
    return " ".join(parts[:3])


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
