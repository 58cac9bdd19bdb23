"""Checking what an operator gives for a member: e-mail, role, language, keys.

Each check returns the cleaned value or a :class:`Problem` naming the field,
the value and what is allowed, so ``members add`` (and a nomination file's
``members:`` list) refuses bad input before anything is written.  Public keys
only: an age recipient (``age1…``) and an OpenSSH public key line.  What this
module deliberately does not do: touch the database or the cloud.
"""

from __future__ import annotations

import re

from policies import member_keys
from policies.problems import Problem
from provisioner.member_bundle import parse_recipient

ROLES = ("member", "reader")
LANGUAGES = ("da", "en")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def check_email(value: str, source: str = "command line") -> str | Problem:
    text = value.strip()
    if len(text) > 254 or not _EMAIL.match(text) or any(ord(c) < 32 for c in text):
        return Problem(source, "email", value, "expected an e-mail address like name@example.org")
    return text.lower()


def check_name(value: str | None, source: str = "command line") -> str | None | Problem:
    """A member's display name: 1 to 200 printable characters, or None."""
    if value is None:
        return None
    if not value.strip() or len(value) > 200 or any(ord(c) < 32 for c in value):
        return Problem(source, "name", value, "1 to 200 printable characters")
    return value.strip()


def check_choice(field: str, value: str, allowed: tuple[str, ...], source: str) -> str | Problem:
    if value not in allowed:
        return Problem(source, field, value, f"allowed: {', '.join(allowed)}")
    return value


def check_age_recipient(value: str | None, source: str = "command line") -> str | None | Problem:
    if value is None or not value.strip():
        return None
    try:
        key = member_keys.check_age_recipient(value)
        parse_recipient(key)  # the library that will encrypt to it agrees
    except ValueError as exc:
        return Problem(source, "age recipient", member_keys.shown(value.strip()), str(exc))
    return key


def check_ssh_key(value: str | None, source: str = "command line") -> str | None | Problem:
    """One OpenSSH public key line (type, base64 blob whose own type matches, comment)."""
    if value is None or not value.strip():
        return None
    try:
        return member_keys.check_ssh_key(value)
    except ValueError as exc:
        return Problem(source, "ssh key", member_keys.shown(value.strip()), str(exc))
