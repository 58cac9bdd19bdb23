"""The monthly report opened for reading: its Markdown text, scrollable, and where the PDF is.

Why this exists: after ``g`` has written a report on the Evaluation & reports
screen, operations want to read it without leaving the terminal.  The PDF
cannot be shown in a terminal, so this shows the same report rendered as
Markdown (same figures, same words, made from the same gathered data) in a
Textual ``MarkdownViewer`` with a table of contents, and names the PDF's
path for sending or printing.

Deliberately not here: generating anything (the Reports screen's worker
does it through the facade) or opening an external viewer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, MarkdownViewer, Static

if TYPE_CHECKING:
    from ngc_pilot.facade import ReadableReport


class ReportViewScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("t", "toggle_contents", "Contents", tooltip="Show or hide the contents (t)"),
    ]
    AUTO_FOCUS = "#report-markdown"

    def __init__(self, report: ReadableReport) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical(id="report-dialog", classes="dialog"):
            yield Label(
                f"Report of {self.report.month} ({self.report.language})", classes="dialog-title"
            )
            yield Static(Text(f"PDF: {self.report.pdf}"), id="report-pdf")
            viewer = MarkdownViewer(
                self.report.markdown,
                id="report-markdown",
                show_table_of_contents=False,
                open_links=False,
            )
            viewer.can_focus = True  # so the keys scroll it (Textual's viewer takes no focus)
            yield viewer
            yield Static("↑ ↓ pgup pgdn: scroll · t: contents · esc: close", classes="hint")

    def action_toggle_contents(self) -> None:
        viewer = self.query_one("#report-markdown", MarkdownViewer)
        viewer.show_table_of_contents = not viewer.show_table_of_contents

    def action_close(self) -> None:
        self.dismiss(None)
