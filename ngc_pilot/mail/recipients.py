"""The language a principal investigator's notices are written in.

Why this exists: a PI's notices (request decisions, the monthly statement) are
chosen per recipient like a member's, but the PI is not a member row: their
language is the nomination's ``principal_investigator.language`` (stored with
the nomination), Danish when the nomination gives none.  It deliberately
reads only the stored nomination document; it writes and renders nothing.
"""

from __future__ import annotations

from typing import Any

from ngc_pilot.mail.rendering import LANGUAGES

DEFAULT_LANGUAGE = "da"


def pi_language(document: Any) -> str:
    """The PI's language from a stored nomination document; Danish by default."""
    pi = document.get("principal_investigator") if isinstance(document, dict) else None
    language = pi.get("language") if isinstance(pi, dict) else None
    return language if language in LANGUAGES else DEFAULT_LANGUAGE
