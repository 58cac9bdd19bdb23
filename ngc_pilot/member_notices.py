"""The notices a member gets when added or removed, in Danish or English.

Rendered here as plain subject and body for an ``OutboxMessage`` row; the
mail job sends the outbox.  A notice never carries a secret: with an age key
it says the encrypted bundle is waiting for them (``bundle.tar.age``), without
one it says to collect the bundle from operations.  What this module
deliberately does not do: write rows or send mail.
"""

from __future__ import annotations

from dataclasses import dataclass


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


_ADDED = {
    "da": (
        "NGC-pilot {pilot}: du har fået adgang",
        "Kære {name}\n\n"
        "Du er tilføjet som {role_da} til NGC-pilotprojektet {pilot} ({pilot_name}),\n"
        "OpenStack-projekt {project}. Din personlige adgang udløber {expires_at} (UTC).\n\n"
        "{delivery_da}\n\n"
        "Spørgsmål: {support}\n",
    ),
    "en": (
        "NGC pilot {pilot}: you have been given access",
        "Dear {name}\n\n"
        "You have been added as {role_en} to the NGC pilot {pilot} ({pilot_name}),\n"
        "OpenStack project {project}. Your personal access expires at {expires_at} (UTC).\n\n"
        "{delivery_en}\n\n"
        "Questions: {support}\n",
    ),
}
_REMOVED = {
    "da": (
        "NGC-pilot {pilot}: din adgang er lukket",
        "Kære {name}\n\n"
        "Din adgang til NGC-pilotprojektet {pilot} (OpenStack-projekt {project}) er lukket,\n"
        "og dine adgangsoplysninger virker ikke længere. Slet dem gerne.\n\n"
        "Spørgsmål: {support}\n",
    ),
    "en": (
        "NGC pilot {pilot}: your access has ended",
        "Dear {name}\n\n"
        "Your access to the NGC pilot {pilot} (OpenStack project {project}) has ended,\n"
        "and your credentials no longer work. Please delete them.\n\n"
        "Questions: {support}\n",
    ),
}


def _values(facts: NoticeFacts) -> dict[str, str]:
    return {
        **facts.__dict__,
        "role_da": "læser (kun læseadgang)" if facts.role == "reader" else "medlem",
        "role_en": "a reader (read-only)" if facts.role == "reader" else "a member",
        "delivery_da": (
            "Dine adgangsoplysninger er krypteret til din age-nøgle (bundle.tar.age);\n"
            "driften sender dig filen. Pak den ud med: age -d -i nøgle.txt bundle.tar.age | tar x"
            if facts.encrypted
            else "Du har ikke opgivet en offentlig age-nøgle, så dine adgangsoplysninger\n"
            "sendes ikke med e-mail: hent dem personligt hos driften."
        ),
        "delivery_en": (
            "Your credentials are encrypted to your age key (bundle.tar.age);\n"
            "operations send you the file. Unpack it with: age -d -i key.txt bundle.tar.age | tar x"
            if facts.encrypted
            else "You gave no age public key, so your credentials are not sent by e-mail:\n"
            "collect them in person from operations."
        ),
    }


def render(kind: str, language: str, facts: NoticeFacts) -> tuple[str, str]:
    """Subject and body of ``kind`` (member_added | member_removed) in ``language``."""
    table = _ADDED if kind == "member_added" else _REMOVED
    subject, body = table.get(language, table["da"])
    values = _values(facts)
    return subject.format(**values), body.format(**values)
