"""Evaluation and reports for every interface: responses per area, open support, the report.

What the TUI's Evaluation & reports screen shows and does: the evaluation
responses received per area (the numbers of ``ngc-pilot evaluation list``),
the support items still open, and generating the steering group's monthly
report (written under ``report.dir`` and audited, as ``ngc-pilot report``
does) with its Markdown text for reading it on screen.  Nothing here knows about Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ngc_pilot import evaluation_results, reports, support_log
from ngc_pilot.db import session_scope
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.settings import Settings
from policies.evaluation import load_questionnaire
from policies.problems import InputProblems


@dataclass(frozen=True)
class AreaResponses:
    area: str
    title: str  # in English (the TUI's language)
    responses: int


@dataclass(frozen=True)
class OpenSupport:
    id: int
    pilot_id: str
    area: str
    state: str  # open | responded
    summary: str
    opened_at: datetime


@dataclass(frozen=True)
class ReadableReport:
    """A report written as PDF, with the same report as Markdown to read on screen."""

    month: str
    language: str
    pdf: Path
    markdown: str


@dataclass(frozen=True)
class EvaluationOverview:
    questionnaire: int | None  # its version; None when it cannot be read
    responses: int
    areas: tuple[AreaResponses, ...]
    open_support: tuple[OpenSupport, ...]
    problem: str | None = None  # why the questionnaire cannot be read


class ReportsArea(FacadeBase):
    def _settings(self) -> Settings:
        return self.settings if self.settings is not None else Settings.model_validate({})

    def evaluation_overview(self) -> EvaluationOverview:
        """Responses received per area and the support items not closed yet."""
        try:
            questionnaire, problem = load_questionnaire(None), None
        except InputProblems as exc:
            questionnaire, problem = None, "; ".join(str(p) for p in exc.problems)
        with session_scope(self.engine) as session:
            summary = evaluation_results.summary(session, questionnaire) if questionnaire else None
            items = tuple(
                OpenSupport(
                    item.id or 0,
                    item.pilot_id,
                    item.area,
                    support_log.state(item),
                    item.summary,
                    item.opened_at,
                )
                for item in support_log.items(session, open_only=True)
            )
        areas = tuple(
            AreaResponses(a["id"], a["title"].get("en") or a["id"], a["responses"])
            for a in (summary["areas"] if summary else [])
        )
        return EvaluationOverview(
            summary["questionnaire"] if summary else None,
            summary["responses"] if summary else 0,
            areas,
            items,
            problem,
        )

    def report_dir(self) -> Path:
        return self._settings().report_dir

    def check_report_options(self, fmt: str, language: str) -> None:
        """Refuse a format or language the report does not come in (problems name
        ``format`` and ``language``), before anything is gathered."""
        reports.check_options(fmt, language)

    def generate_report(
        self,
        month: str,
        *,
        fmt: str = "pdf",
        language: str | None = None,
        path: Path | None = None,
    ) -> Path:
        """Write ``month``'s report to ``path`` (default: under ``report.dir``; audited);
        returns its path."""
        return reports.generate(
            self.engine,
            self._settings(),
            month,
            fmt=fmt,
            language=language,
            path=path,
            actor=self.actor,
            policy=self.policy,
        )

    def generate_readable_report(self, month: str) -> ReadableReport:
        """Write ``month``'s PDF report under ``report.dir`` (audited, as
        :meth:`generate_report`) and return it with its Markdown text, rendered
        from the same figures (the Markdown is not written)."""
        settings = self._settings()
        language = settings.report.language
        report = reports.build(
            self.engine, settings, month, fmt="pdf", language=language, policy=self.policy
        )
        path = reports.write(
            self.engine,
            report,
            reports.default_path(settings.report_dir, report.month, "pdf", language),
            actor=self.actor,
            recipients=tuple(settings.report.recipients),
        )
        markdown = reports.render(report.data, "md", language).decode("utf-8")
        return ReadableReport(report.month, language, path, markdown)
