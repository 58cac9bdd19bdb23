"""Audit: the append-only log of who changed what, when and why, filterable.

Newest first.  The filter matches every word against the action, subject,
actor and reason (``pilot.`` finds every pilot event; an id finds everything
about that project); the pane beside the table shows the entry's details.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.widgets.table import OpsTable


def event_matches(event: dict[str, Any], words: list[str]) -> bool:
    if not words:
        return True
    haystack = " ".join(
        str(event.get(k) or "") for k in ("action", "subject", "actor", "reason")
    ).lower()
    return all(w in haystack for w in words)


class AuditScreen(OpsScreen):
    MODE = "audit"
    TITLE = "Audit"
    AUTO_FOCUS = "#audit-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            tooltip="Filter by action, subject, actor, reason (/)",
        ),
    ]

    class Loaded(Message):
        def __init__(self, events: list[dict[str, Any]]) -> None:
            super().__init__()
            self.events = events

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, dict[str, Any]] = {}
        self.words: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="audit-body"):
            with Vertical(id="audit-left"):
                yield Input(
                    placeholder="Filter: e.g. pilot.  or an application id  or an actor",
                    id="audit-filter",
                    compact=True,
                )
                table: DataTable[Any] = OpsTable(
                    id="audit-table", cursor_type="row", zebra_stripes=True
                )
                table.loading = True
                yield table
            with VerticalScroll(id="audit-detail-scroll"):
                yield Static("", id="audit-detail")

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        for header in ("#", "when (UTC)", "actor", "action", "subject", "reason"):
            table.add_column(header)
        self.query_one("#audit-detail-scroll").border_title = "Details"

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading the audit log"):
            self.post_message(self.Loaded(self.services.audit_events()))

    def on_audit_screen_loaded(self, message: Loaded) -> None:
        self.events = {str(e["id"]): e for e in message.events}
        self.refill()

    def refill(self) -> None:
        table = self.query_one("#audit-table", OpsTable)
        table.clear()
        rows = []
        for event in reversed(list(self.events.values())):
            if not event_matches(event, self.words):
                continue
            reason = event["reason"] or ""
            cells = [
                Text(str(event["id"]), justify="right"),
                event["at"][:19].replace("T", " "),
                event["actor"],
                event["action"],
                event["subject"] if len(event["subject"]) <= 32 else event["subject"][:31] + "…",
                reason if len(reason) <= 40 else reason[:39] + "…",
            ]
            rows.append((str(event["id"]), cells))
        table.fit_columns(cells for _, cells in rows)
        for key, cells in rows:
            table.add_row(*cells, key=key)
        shown = len(rows)
        table.loading = False
        self.focus_default()
        table.border_title = f"{shown} of {len(self.events)} entries, newest first" + (
            f" · filter: {' '.join(self.words)}" if self.words else ""
        )
        self.show_detail()

    def show_detail(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        target = self.query_one("#audit-detail", Static)
        if table.row_count == 0:
            target.update("No entries." if not self.words else "No entry matches the filter.")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        event = self.events.get(str(key))
        if event is None:
            target.update("")
            return
        head = Text()
        head.append(f"#{event['id']} {event['action']}", style="bold")
        head.append(f"\n{event['at']}\nby {event['actor']}\nsubject: {event['subject']}")
        if event["reason"]:
            head.append(f"\nreason: {event['reason']}")
        from rich.syntax import Syntax  # pygments: only once an entry is shown

        details = json.dumps(event["details"], indent=2, ensure_ascii=False, default=str)
        target.update(
            Group(
                head, Text(""), Syntax(details, "json", word_wrap=True, background_color="default")
            )
        )

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self) -> None:
        self.show_detail()

    @on(Input.Changed, "#audit-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.words = event.value.lower().split()
        self.refill()

    @on(Input.Submitted, "#audit-filter")
    def _filter_done(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def action_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def key_escape(self) -> None:
        """Esc in the filter clears it and goes back to the table."""
        field = self.query_one("#audit-filter", Input)
        if field.has_focus:
            field.value = ""
            self.query_one("#audit-table", DataTable).focus()
