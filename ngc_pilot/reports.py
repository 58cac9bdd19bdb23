"""The steering group's monthly report: gather, render, write the file, audit it.

Why this exists: the CLI (``ngc-pilot report``), the TUI's Evaluation &
reports screen and the scheduler's monthly ``report`` job all make the same
report; this is the one function they call.  :func:`build` returns the
report's bytes (nothing written); :func:`write` writes them whole — to a
temporary file renamed into place, so a failure never leaves half a report —
and records ``report.generated`` in the audit log; :func:`monthly_report` is
the scheduled job: last month's report in the configured language under
``report.dir``.

Deliberately not here: sending the report (the mail outbox is wired by the
lead once mail lands; ``report.recipients`` is only carried in the audit
details), the figures themselves (``ngc_pilot.report_data``), layout and
wording (``report_layout``, ``report_render``, ``report_pdf``,
``report_messages``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from ngc_pilot import audit, report_data, report_layout
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
        access_default=lifecycle.data_access.date,
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


def monthly_report(
    engine: Engine, settings: Settings, *, now: datetime | None = None
) -> dict[str, str]:
    """The scheduled job: last month's PDF report under ``report.dir``; returns its path.

    The e-mail to ``report.recipients`` is not queued here (the outbox is wired
    once mail lands); the job's summary carries the path for that.
    """
    now = now or utcnow()
    month = last_month(now)
    try:
        path = generate(engine, settings, month, fmt="pdf", actor=settings.actor, now=now)
    except InputError as exc:
        if exc.problems and all(p.field == "month" for p in exc.problems):
            return {"month": month, "skipped": "; ".join(p.message for p in exc.problems)}
        raise
    return {"month": month, "path": str(path)}
