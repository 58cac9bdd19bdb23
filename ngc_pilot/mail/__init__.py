"""E-mail: notices rendered from templates into the outbox, and the outbox sent through SMTP.

* :mod:`.rendering` — the Danish and English Jinja2 templates.
* :mod:`.queueing` — :func:`queue`: render once, record once per key.
* :mod:`.message` — the e-mail of one row and its stable Message-ID.
* :mod:`.sending` — claim, send, confirm; retries and the in-doubt rule.
* :mod:`.statement` — the monthly usage statement to each PI.
* :mod:`.reading` — the outbox as operators and ``/metrics`` see it.
* :mod:`.recipients` — :func:`pi_language`: the PI's language (Danish by default).

:func:`send_job` is what the scheduler's ``mail`` job calls.  Nothing here
decides when a notice is due (the lifecycle, provisioning, members and
requests do) or prices anything (billing does).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from ngc_pilot.errors import TransientError
from ngc_pilot.mail.queueing import Attachment, Queued, check_recipient, queue, requeue
from ngc_pilot.mail.reading import STATUSES, outbox, outbox_counts
from ngc_pilot.mail.recipients import pi_language
from ngc_pilot.mail.rendering import LANGUAGES, render, templates
from ngc_pilot.mail.sending import SendReport, send_due
from ngc_pilot.mail.statement import queue_statements, statement_due, statement_key

__all__ = [
    "LANGUAGES",
    "STATUSES",
    "Attachment",
    "Queued",
    "SendReport",
    "check_recipient",
    "outbox",
    "outbox_counts",
    "pi_language",
    "queue",
    "queue_statements",
    "render",
    "requeue",
    "send_due",
    "send_job",
    "statement_due",
    "statement_key",
    "templates",
]


def send_job(engine: Engine, settings: Any) -> dict[str, Any]:
    """The ``mail`` job: send what is due.  An unreachable server fails the run
    (retried by the scheduler); messages failed for good show in ``failed``."""
    report = send_due(engine, settings.mail, actor=settings.actor)
    summary = {
        **report.as_dict(),
        # In-doubt messages need a person as much as failed ones: the run reports both.
        "failed": report.failed + report.in_doubt,
        "outbox": outbox_counts(engine),
    }
    if report.error:
        raise TransientError(report.error, retry_after=60.0)
    return summary
