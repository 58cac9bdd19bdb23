"""The notice that tells a PI how their change request was decided (Danish).

Why this exists: the requester is told, in the same transaction as the
decision, by a row in the outbox; this module words that row.  It
deliberately writes and sends nothing (``change_requests`` records the row,
the mail job sends it) and has no English variant yet: the templates of the
mail work (issue 11 §3) replace it when they land.
"""

from __future__ import annotations

from typing import Protocol

WHAT = {
    "extend": "forlængelse til {value}",
    "resize": "ændring af størrelse til {value}",
    "add_member": "tilføjelse af medlemmet {value}",
    "data_access": "adgang til de nationale genomdata",
}
VERDICT = {"approved": "godkendt", "rejected": "afvist"}


class _Request(Protocol):
    id: int | None
    pilot_id: str
    kind: str
    value: str
    status: str
    reason: str | None


def decision_notice(request: _Request, pilot_name: str) -> tuple[str, str]:
    """(subject, body) of the notice for a decided request."""
    what = WHAT[request.kind].format(value=request.value)
    verdict = VERDICT.get(request.status, request.status)
    subject = f"Din anmodning om {what} for {request.pilot_id} er {verdict}"
    body = (
        "Kære projektleder\n\n"
        f"Din anmodning nr. {request.id} om {what} for pilotprojektet "
        f"{request.pilot_id} ({pilot_name}) er {verdict}.\n\n"
        f"Begrundelse: {request.reason}\n\n"
        + (
            "Ændringen gennemføres i jeres projektmiljø nu; I får besked, hvis noget "
            "kræver jeres handling.\n\n"
            if request.status == "approved"
            else "Kontakt driften, hvis I har spørgsmål til afgørelsen.\n\n"
        )
        + "Med venlig hilsen\nNationalt Genom Center, driften\n"
    )
    return subject[:300], body[:10000]
