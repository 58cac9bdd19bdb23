"""What a member's notices say that the mail templates leave to the caller.

The ``member_added`` and ``member_removed`` notices are the mail templates
(``ngc_pilot/mail/templates/<language>/member_*.txt``), queued with
:func:`ngc_pilot.mail.queue` in the member's language.  This module builds
their context: the role and the "how to collect your credentials" paragraph
in that language.  A notice never carries a secret: with an age key it says
the encrypted bundle is waiting for them (``bundle.tar.age``), without one it
says to collect the bundle from operations.  What this module deliberately
does not do: write rows, render templates or send mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NoticeFacts:
    pilot: str
    pilot_name: str
    project: str
    name: str  # the member's name, or their e-mail
    role: str  # member | reader
    encrypted: bool  # the bundle was encrypted to the member's age key
    expires_at: str  # ISO 8601, UTC
    support: str


_ROLE = {
    "da": {"member": "medlem", "reader": "læser (kun læseadgang)"},
    "en": {"member": "member", "reader": "reader (read-only)"},
}
_ENCRYPTED = {
    "da": "Dine adgangsoplysninger er krypteret til din age-nøgle (bundle.tar.age);\n"
    "driften sender dig filen. Pak den ud med: age -d -i nøgle.txt bundle.tar.age | tar x",
    "en": "Your credentials are encrypted to your age key (bundle.tar.age);\n"
    "operations send you the file. Unpack it with: age -d -i key.txt bundle.tar.age | tar x",
}
_COLLECT = {
    "da": "Du har ikke opgivet en offentlig age-nøgle, så dine adgangsoplysninger\n"
    "sendes ikke med e-mail: hent dem personligt hos driften.",
    "en": "You gave no age public key, so your credentials are not sent by e-mail:\n"
    "collect them in person from operations.",
}
_EXPIRES = {
    "da": "Din personlige adgang udløber {expires_at} (UTC).",
    "en": "Your personal access expires at {expires_at} (UTC).",
}


def context(kind: str, language: str, facts: NoticeFacts) -> dict[str, Any]:
    """The template context of ``kind`` (member_added | member_removed) in ``language``."""
    words = language if language in _ROLE else "da"
    values: dict[str, Any] = {
        "name": facts.name,
        "pilot": facts.pilot,
        "project": facts.project,
        "support_contact": facts.support,
    }
    if kind == "member_added":
        delivery = (_ENCRYPTED if facts.encrypted else _COLLECT)[words]
        expires = _EXPIRES[words].format(expires_at=facts.expires_at)
        values["role"] = _ROLE[words].get(facts.role, facts.role)
        values["how_to_collect"] = f"{expires}\n\n{delivery}"
    return values
