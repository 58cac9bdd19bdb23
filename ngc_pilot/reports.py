"""The steering group's monthly report: gather, render, write the file, audit it.

Why this exists: the CLI (``ngc-pilot report``), the TUI's Evaluation &
reports screen and the scheduler's monthly ``report`` job all make the same
report; this is the one function they call.  :func:`build` returns the
report's bytes (nothing written); :func:`write` writes them whole — to a
temporary file renamed into place, so a failure never leaves half a report —
and records ``report.generated`` in the audit log; :func:`monthly_report` is
the scheduled job: last month's report in the configured language under
``report.dir``, queued with :func:`queue_report` through the mail outbox to
``report.recipients`` (the PDF attached, once per month and recipient).

Deliberately not here: sending (the ``mail`` job sends the outbox), the
figures themselves (``ngc_pilot.report_data``), layout and
wording (``report_layout``, ``report_render``, ``report_pdf``,
``report_messages``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ngc_pilot import audit, mail, report_data, report_layout
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.report_messages import LANGUAGES, Messages
from ngc_pilot.settings import Settings
from policies.evaluation import load_questionnaire
from policies.lifecycle import load_lifecycle_policy
from policies.prices import load_prices
from policies.problems import InputProblems, Problem
from policies.rating import Month
from policies.selection_policy import SelectionPolicy, load_policy
from policies.tenancy import load_tenant_policy

FORMATS = ("pdf", "html", "md")


@dataclass(frozen=True)
class Report:
    month: str
    format: str
    language: str
    content: bytes
    data: report_data.ReportData


def check_options(fmt: str, language: str) -> None:
    problems = []
    if fmt not in FORMATS:
        problems.append(Problem("report", "format", fmt, f"allowed: {', '.join(FORMATS)}"))
    if language not in LANGUAGES:
        problems.append(Problem("report", "language", language, f"allowed: {', '.join(LANGUAGES)}"))
    if problems:
        raise InputError(problems)


def gather(
    engine: Engine,
    settings: Settings,
    month: str,
    *,
    policy: SelectionPolicy | None = None,
    now: datetime | None = None,
) -> report_data.ReportData:
    """The report's figures for ``month`` with the configured policies and price lists."""
    m = report_data.parse_month(month)
    try:
        prices = load_prices(settings.policy.prices_file)
        tenant_policy = load_tenant_policy(settings.policy.tenant_file)
        lifecycle = load_lifecycle_policy(settings.policy.lifecycle_file)
        if policy is None:
            policy = load_policy(settings.policy.selection_file)
    except InputProblems as exc:
        raise InputError(exc.problems) from exc
    try:
        questionnaire, problem = load_questionnaire(None), None
    except InputProblems as exc:
        questionnaire, problem = None, "; ".join(str(p) for p in exc.problems)
    return report_data.gather(
        engine,
        str(m),
        prices=prices,
        price_files=report_data.candidate_price_files(settings.policy.prices_file),
        questionnaire=questionnaire,
        questionnaire_problem=problem,
        policy=policy,
        tenant_policy=tenant_policy,
        lifecycle=lifecycle,
        now=now or utcnow(),
    )


def render(data: report_data.ReportData, fmt: str, language: str) -> bytes:
    check_options(fmt, language)
    blocks = report_layout.blocks(data, Messages(language))
    if fmt == "pdf":
        from ngc_pilot import report_pdf

        return report_pdf.render(blocks)
    from ngc_pilot import report_render

    if fmt == "html":
        return report_render.html(blocks, lang=language).encode("utf-8")
    return report_render.markdown(blocks).encode("utf-8")


def build(
    engine: Engine,
    settings: Settings,
    month: str,
    *,
    fmt: str = "pdf",
    language: str = "da",
    policy: SelectionPolicy | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of ``month`` in ``fmt`` and ``language``; writes nothing."""
    check_options(fmt, language)
    data = gather(engine, settings, month, policy=policy, now=now)
    return Report(data.month, fmt, language, render(data, fmt, language), data)


def default_path(directory: Path, month: str, fmt: str, language: str) -> Path:
    return directory / f"steering-report-{month}-{language}.{fmt}"


def write(
    engine: Engine, report: Report, path: Path, *, actor: str, recipients: tuple[str, ...] = ()
) -> Path:
    """Write ``report`` to ``path`` whole (or not at all) and audit it; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(report.content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with session_scope(engine) as session:
        audit.record(
            session,
            actor=actor,
            action="report.generated",
            subject=f"report:{report.month}",
            details={
                "month": report.month,
                "format": report.format,
                "language": report.language,
                "path": str(path),
                "bytes": len(report.content),
                "recipients": len(recipients),
            },
        )
    return path


def generate(
    engine: Engine,
    settings: Settings,
    month: str,
    *,
    fmt: str = "pdf",
    language: str | None = None,
    path: Path | None = None,
    actor: str,
    policy: SelectionPolicy | None = None,
    now: datetime | None = None,
) -> Path:
    """Build the report and write it (default: under ``report.dir``); returns its path."""
    language = language or settings.report.language
    report = build(engine, settings, month, fmt=fmt, language=language, policy=policy, now=now)
    target = path or default_path(settings.report_dir, report.month, fmt, language)
    return write(engine, report, target, actor=actor, recipients=tuple(settings.report.recipients))


def last_month(now: datetime) -> str:
    this = Month(now.year, now.month)
    return str(Month(this.year - (this.month == 1), (this.month - 2) % 12 + 1))


def report_key(month: str, recipient: str) -> str:
    return f"report:{month}:{recipient}"


def queue_report(
    engine: Engine, report: Report, path: Path, recipients: Sequence[str], *, actor: str
) -> dict[str, Any]:
    """Queue ``report`` (a PDF) to each of ``recipients`` through the mail outbox, once each.

    One notice per month and recipient (key ``report:<month>:<recipient>``), in
    the report's language with the PDF attached, all in one transaction; a
    recipient already queued for the month is listed, not queued again.  No
    recipients: nothing is queued, and the summary says so.
    """
    if not recipients:
        return {"queued": [], "mail": "report.recipients is empty: nothing queued"}
    queued: list[str] = []
    already: list[str] = []
    attachment = mail.Attachment(path.name, report.content, "application/pdf")
    with session_scope(engine) as session:
        for recipient in recipients:
            done = mail.queue(
                session,
                key=report_key(report.month, recipient),
                kind="report",
                recipient=recipient,
                language=report.language,
                context={"month": report.month},
                attachments=[attachment],
            )
            (queued if done.created else already).append(recipient)
        if queued:
            audit.record(
                session,
                actor=actor,
                action="report.queued",
                subject=f"report:{report.month}",
                reason="the monthly report to the steering group",
                details={"month": report.month, "language": report.language, "to": queued},
            )
    return {"queued": queued, "already_queued": already}


def monthly_report(
    engine: Engine, settings: Settings, *, now: datetime | None = None
) -> dict[str, Any]:
    """The scheduled job: last month's PDF report under ``report.dir``, queued by mail to
    ``report.recipients`` in ``report.language``; returns its path and who it was queued to.

    A month with no data is skipped (said in the summary), and so is the mail
    when no one is named.  A malformed recipient fails the run before anything
    is written.
    """
    now = now or utcnow()
    month = last_month(now)
    recipients = [mail.check_recipient(r) for r in settings.report.recipients]
    language = settings.report.language
    try:
        report = build(engine, settings, month, fmt="pdf", language=language, now=now)
    except InputError as exc:
        if exc.problems and all(p.field == "month" for p in exc.problems):
            return {"month": month, "skipped": "; ".join(p.message for p in exc.problems)}
        raise
    path = write(
        engine,
        report,
        default_path(settings.report_dir, report.month, "pdf", language),
        actor=settings.actor,
        recipients=tuple(recipients),
    )
    sent = queue_report(engine, report, path, recipients, actor=settings.actor)
    return {"month": month, "path": str(path), "language": language, **sent}
