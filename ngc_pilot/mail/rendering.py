"""Rendering a notice from the shipped Jinja2 templates, in Danish or English.

Why this exists: every notice is a pair of plain-text templates (subject and
body) per language under ``templates/<language>/<template>.{subject,body}.txt``;
rendering happens once, when the notice is queued, so what is sent is what was
recorded (and rows others write with a ready subject and body are sent the
same way).  A variable a template uses and the caller did not give is an
error here (``StrictUndefined``), never a blank in someone's mail.  It
deliberately sends nothing and touches no database.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from ngc_pilot.errors import InputError
from policies.problems import Problem

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("da", "en")
"""Languages a notice can be written in; Danish is the default."""

SUBJECT_MAX = 300
BODY_MAX = 10000


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=False,  # plain text mail, never HTML
        keep_trailing_newline=True,
    )


def template_for(kind: str) -> str:
    """The template a kind of notice uses: ``expiry-14d`` -> ``expiry``, else the kind."""
    return re.sub(r"-\d+d$", "", kind).replace("-", "_")


def templates() -> list[str]:
    """The templates shipped (each in every language)."""
    return sorted(p.name.split(".")[0] for p in (TEMPLATES / "da").glob("*.subject.txt"))


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InputError(
            [Problem("notice", "language", language, f"allowed: {', '.join(LANGUAGES)}")]
        )
    return language


def render(template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of ``template`` in ``language`` with ``context``.

    The subject is one line (whitespace folded) of at most 300 characters; a
    body longer than the outbox holds is refused, not cut.
    """
    check_language(language)
    env = _environment()
    try:
        subject_t = env.get_template(f"{language}/{template}.subject.txt")
        body_t = env.get_template(f"{language}/{template}.body.txt")
    except TemplateNotFound:
        raise InputError(
            [
                Problem(
                    "notice",
                    "kind",
                    template,
                    f"no such template; templates: {', '.join(templates())}",
                )
            ]
        ) from None
    subject = " ".join(subject_t.render(context).split())[:SUBJECT_MAX]
    body = body_t.render(context)
    if len(body) > BODY_MAX:
        raise InputError(
            [
                Problem(
                    "notice", "body", f"{len(body)} characters", f"at most {BODY_MAX} are allowed"
                )
            ]
        )
    return subject, body
