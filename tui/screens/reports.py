"""Evaluation & reports: responses per area, open support items, and the monthly report.

From the service facade's evaluation overview: how many evaluation responses
each of the five areas has received, and the support items not yet closed.
``g`` asks for a month and writes the steering group's report for it (PDF,
in the configured language, under ``report.dir``; audited) in a worker, then
shows where it is; ``o`` opens the report last written here for reading (its
Markdown text in :class:`tui.screens.report_view.ReportViewScreen`, with the
PDF's path).  Sending the report is not done here (the monthly job queues it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.screens.prompt import PromptScreen
from tui.screens.report_view import ReportViewScreen
from tui.screens.usage import check_month
from tui.widgets.table import OpsTable

if TYPE_CHECKING:
    from ngc_pilot.facade import EvaluationOverview, ReadableReport


class ReportsScreen(OpsScreen):
    MODE = "reports"
    TITLE = "Evaluation & reports"
    HELP = (
        "Evaluation responses received per area and the support items still open. "
        "g writes the steering group's monthly report (PDF) for a month you type; "
        "o opens it for reading (as Markdown, with the PDF's path)."
    )
    AUTO_FOCUS = "#rep-areas"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "generate", "Generate report", tooltip="Write a month's report (g)"),
        Binding("o", "open_report", "Open report", tooltip="Read the report last written (o)"),
    ]

    class Loaded(Message):
        def __init__(self, overview: EvaluationOverview) -> None:
            super().__init__()
            self.overview = overview

    class Generated(Message):
        """A report was written; ``report`` is None when it failed (already reported)."""

        def __init__(self, month: str, report: ReadableReport | None) -> None:
            super().__init__()
            self.month = month
            self.report = report

    def __init__(self) -> None:
        super().__init__()
        self.last_report: ReadableReport | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="rep-body"):
            yield Static("Loading…", id="rep-status")
            areas: DataTable[Any] = OpsTable(id="rep-areas", cursor_type="row")
            yield areas
            support: DataTable[Any] = OpsTable(id="rep-support", cursor_type="row")
            yield support
            yield Static("", id="rep-last")

    def on_mount(self) -> None:
        self.query_one("#rep-areas").border_title = "Evaluation responses per area"
        self.query_one("#rep-support").border_title = "Open support items"
        self.query_one("#rep-areas", DataTable).add_columns("area", "responses")
        self.query_one("#rep-support", DataTable).add_columns(
            "#", "pilot", "area", "state", "opened", "summary"
        )

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading the evaluation"):
            self.post_message(self.Loaded(self.services.evaluation_overview()))

    def on_reports_screen_loaded(self, message: Loaded) -> None:
        overview = message.overview
        status = Text()
        if overview.problem:
            status.append(f"The questionnaire cannot be read: {overview.problem}", style="red")
        else:
            status.append(
                f"Questionnaire version {overview.questionnaire}: "
                f"{overview.responses} response(s) · {len(overview.open_support)} open support "
                "item(s)",
                style="bold",
            )
        status.append(
            "\ng: write a month's report (`ngc-pilot report --month YYYY-MM`) · o: read the "
            "one last written.",
            style="dim",
        )
        self.query_one("#rep-status", Static).update(status)
        areas = self.query_one("#rep-areas", DataTable)
        areas.clear()
        for a in overview.areas:
            areas.add_row(Text(a.title), str(a.responses), key=a.area)
        support = self.query_one("#rep-support", DataTable)
        support.clear()
        for item in overview.open_support:
            support.add_row(
                str(item.id),
                Text(item.pilot_id),
                item.area,
                item.state,
                f"{item.opened_at:%Y-%m-%d %H:%M}",
                Text(item.summary),
                key=str(item.id),
            )
        self.focus_default()

    def action_generate(self) -> None:
        self.app.push_screen(
            PromptScreen(
                "Generate the monthly report",
                "The month to report on, YYYY-MM. The PDF is written under "
                f"{self.services.report_dir()} and the audit log records it.",
                placeholder="2021-05",
                check=check_month,
                ok="Generate",
            ),
            lambda month: self._generate(month) if month else None,
        )

    @work(thread=True, exclusive=True, group="report")
    def _generate(self, month: str) -> None:
        report = None
        with reported(self, f"Writing the report of {month}"):
            report = self.services.generate_readable_report(month)
        self.post_message(self.Generated(month, report))

    def on_reports_screen_generated(self, message: Generated) -> None:
        if message.report is None:
            return  # the notification says why
        self.last_report = message.report
        self.query_one("#rep-last", Static).update(
            Text(f"Report of {message.month}: {message.report.pdf}  (o: open)")
        )
        self.notify(f"{message.report.pdf}\no: open it", title=f"Report of {message.month} written")
        self.changed()

    def action_open_report(self) -> None:
        if self.last_report is None:
            self.notify("Write a report first (g).", title="No report to open", severity="warning")
            return
        self.app.push_screen(ReportViewScreen(self.last_report))
