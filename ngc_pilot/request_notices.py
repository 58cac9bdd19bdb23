"""What a PI's "request decided" notice says that the mail template leaves to the caller.

Why this exists: the requester is told, in the same transaction as the
decision, by the ``request_decided`` mail template queued with
:func:`ngc_pilot.mail.queue` in the PI's language; this module builds its
context (what was asked for, in that language).  It deliberately writes,
renders and sends nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

WHAT = {
    "da": {
        "extend": "forlængelse til {value}",
        "resize": "ændring af størrelse til {value}",
        "add_member": "tilføjelse af medlemmet {value}",
        "data_access": "adgang til de nationale genomdata",
    },
    "en": {
        "extend": "an extension to {value}",
        "resize": "a resize to {value}",
        "add_member": "adding the member {value}",
        "data_access": "access to the national genome data",
    },
}


class _Request(Protocol):
    id: int | None
    pilot_id: str
    kind: str
    value: str
    status: str
    reason: str | None


def decision_context(
    request: _Request, language: str, *, pi_name: str, support_contact: str
) -> dict[str, Any]:
    """The ``request_decided`` template's context for a decided request."""
    words = WHAT.get(language, WHAT["da"])
    return {
        "name": pi_name,
        "pilot": request.pilot_id,
        "request_id": request.id,
        "what": words[request.kind].format(value=request.value),
        "approved": request.status != "rejected",
        "reason": request.reason or "",
        "support_contact": support_contact,
    }
