"""Applications: every nomination with eligibility and score; add, edit, import.

A sortable, filterable table (eligible, score, institution, data types,
readiness, pilot state) beside a detail pane with the score breakdown and the
eligibility reasons.  Adding or editing goes through the nomination form,
which validates exactly like a file import; importing takes files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from policies.units import format_size
from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.widgets.application_detail import ApplicationDetail
from tui.widgets.table import OpsTable, cursor_key

# column key -> (header, sort key, sort label)
if TYPE_CHECKING:  # the service layer is imported by the worker that opens it, not here
    from ngc_pilot.facade import ApplicationRow
    from ngc_pilot.intake import ImportReport

SortKey = Callable[["ApplicationRow"], Any]


def _eligible_key(r: ApplicationRow) -> Any:
    return (not r.assessed.eligibility.eligible, -r.assessed.score.total, r.id)


SORTS: dict[str, tuple[str, SortKey]] = {
    "id": ("id", lambda r: r.id),
    "name": ("name", lambda r: (r.assessed.nomination.name.lower(), r.id)),
    "institution": ("institution", lambda r: (r.assessed.nomination.institution.lower(), r.id)),
    "eligible": ("eligible", _eligible_key),
    "score": ("score", lambda r: (-r.assessed.score.total, r.id)),
    "maturity": ("mat.", lambda r: (-r.assessed.nomination.maturity, r.id)),
    "data": ("data types", lambda r: (",".join(r.assessed.nomination.data.types), r.id)),
    "volume": ("volume", lambda r: (-r.assessed.nomination.data.volume_bytes, r.id)),
    "ready": ("ready", lambda r: (r.assessed.nomination.ready_date, r.id)),
    "pilot": ("pilot", lambda r: (r.pilot_state or "~", r.id)),
}
SORT_ORDER = tuple(SORTS)


def _cells(row: ApplicationRow) -> list[Any]:
    a = row.assessed
    n = a.nomination
    eligible = Text("yes", style="green") if a.eligibility.eligible else Text("no", style="red")
    pilot = {"selected": Text("selected", style="bold cyan"), "withdrawn": Text("withdrawn")}
    return [
        n.id,
        n.name if len(n.name) <= 34 else n.name[:33] + "…",
        n.institution if len(n.institution) <= 24 else n.institution[:23] + "…",
        eligible,
        Text(f"{a.score.total:.1f}", justify="right"),
        Text(str(n.maturity), justify="right"),
        ",".join(n.data.types)[:24],
        Text(format_size(n.data.volume_bytes), justify="right"),
        n.ready_date.isoformat(),
        pilot.get(row.pilot_state or "", ""),
    ]


def matches(row: ApplicationRow, words: list[str]) -> bool:
    """Every word occurs in the id, name, institution, nominator, types, sources or tasks."""
    if not words:
        return True
    n = row.assessed.nomination
    haystack = " ".join(
        [
            n.id,
            n.name,
            n.institution,
            n.institution_type,
            n.nominated_by,
            *n.data.types,
            *n.data.sources,
            *n.task_types,
            "eligible" if row.assessed.eligibility.eligible else "ineligible",
            row.pilot_state or "",
        ]
    ).lower()
    return all(word in haystack for word in words)


class ApplicationsScreen(OpsScreen):
    MODE = "applications"
    TITLE = "Applications"
    AUTO_FOCUS = "#apps-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Type words to filter (/)"),
        Binding("o", "eligible_only", "Eligible only", tooltip="Show only eligible (o)"),
        Binding("s", "sort_next", "Sort", tooltip="Sort by the next column (s)"),
        Binding("S", "sort_reverse", "Reverse", tooltip="Reverse the sort order (S)"),
        Binding("a", "add", "Add", tooltip="Add a nomination with the form (a)"),
        Binding("e", "edit", "Edit", tooltip="Edit the highlighted nomination (e)"),
        Binding("i", "import", "Import", tooltip="Import YAML, JSON or CSV files (i)"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[ApplicationRow]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, ApplicationRow] = {}
        self.sort_column = "score"
        self.sort_reverse = False
        self.eligible_only = False
        self.words: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="apps-body"):
            yield Input(
                placeholder="Filter (/): words in id, name, institution, data types, sources, tasks …",
                id="apps-filter",
                compact=True,
            )
            table: DataTable[Any] = OpsTable(id="apps-table", cursor_type="row", zebra_stripes=True)
            table.loading = True
            yield table
            yield ApplicationDetail(id="apps-detail")

    def on_mount(self) -> None:
        table = self.query_one("#apps-table", DataTable)
        for key, (header, _) in SORTS.items():
            table.add_column(header, key=key)

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading applications"):
            self.post_message(self.Loaded(self.services.applications()))

    def on_applications_screen_loaded(self, message: Loaded) -> None:
        self.rows = {r.id: r for r in message.rows}
        self.refill()

    # --------------------------------------------------------- table contents

    @property
    def table(self) -> OpsTable:
        return self.query_one("#apps-table", OpsTable)

    def visible(self) -> list[ApplicationRow]:
        return [
            r
            for r in self.rows.values()
            if (r.assessed.eligibility.eligible or not self.eligible_only)
            and matches(r, self.words)
        ]

    def refill(self) -> None:
        """Put the filtered rows in the table, sorted, keeping the highlighted one."""
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        rows = [(row.id, _cells(row)) for row in self.visible()]
        table.fit_columns(cells for _, cells in rows)
        for key, cells in rows:
            table.add_row(*cells, key=key)
        self.apply_sort()
        table.loading = False
        self.focus_default()
        if keep is not None and keep in self.rows:
            try:
                table.move_cursor(row=table.get_row_index(keep))
            except Exception:  # filtered out: stay at the top
                table.move_cursor(row=0)
        self.show_detail()

    def apply_sort(self) -> None:
        key = SORTS[self.sort_column][1]
        rows = self.rows
        self.table.sort("id", key=lambda app_id: key(rows[app_id]), reverse=self.sort_reverse)
        self.update_title()

    def update_title(self) -> None:
        shown = self.table.row_count
        total = len(self.rows)
        eligible = sum(r.assessed.eligibility.eligible for r in self.rows.values())
        parts = [f"{shown} of {total} shown, {eligible} eligible"]
        arrow = "↑" if self.sort_reverse else "↓"
        parts.append(f"sorted by {SORTS[self.sort_column][0]} {arrow}")
        if self.eligible_only:
            parts.append("eligible only")
        if self.words:
            parts.append("filter: " + " ".join(self.words))
        self.table.border_title = " · ".join(parts)

    def highlighted_id(self) -> str | None:
        return cursor_key(self.table)

    def show_detail(self) -> None:
        app_id = self.highlighted_id()
        self.query_one(ApplicationDetail).show(self.rows.get(app_id) if app_id else None)

    @on(DataTable.RowHighlighted, "#apps-table")
    def _highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.HeaderSelected, "#apps-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self.apply_sort()

    @on(DataTable.RowSelected, "#apps-table")
    def _selected(self) -> None:
        self.action_edit()

    @on(Input.Changed, "#apps-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.words = event.value.lower().split()
        self.refill()

    @on(Input.Submitted, "#apps-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def key_escape(self) -> None:
        """Esc in the filter clears it and goes back to the table."""
        field = self.query_one("#apps-filter", Input)
        if field.has_focus:
            field.value = ""
            self.query_one("#apps-table", DataTable).focus()

    # ---------------------------------------------------------------- actions

    def action_filter(self) -> None:
        self.query_one("#apps-filter", Input).focus()

    def action_eligible_only(self) -> None:
        self.eligible_only = not self.eligible_only
        self.refill()

    def action_sort_next(self) -> None:
        i = SORT_ORDER.index(self.sort_column)
        self.sort_column, self.sort_reverse = SORT_ORDER[(i + 1) % len(SORT_ORDER)], False
        self.apply_sort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.apply_sort()

    def action_add(self) -> None:
        from tui.screens.nomination_form import NominationFormScreen

        self.app.push_screen(NominationFormScreen(self.services, None), self._saved)

    def action_edit(self) -> None:
        app_id = self.highlighted_id()
        if app_id is None or app_id not in self.rows:
            self.notify("No application highlighted to edit.", severity="warning")
            return
        document = self.rows[app_id].assessed.application.document
        from tui.screens.nomination_form import NominationFormScreen

        self.app.push_screen(NominationFormScreen(self.services, document), self._saved)

    def action_import(self) -> None:
        from tui.screens.import_file import ImportFileScreen

        self.app.push_screen(ImportFileScreen(self.services), self._imported)

    def _saved(self, report: ImportReport | None) -> None:
        if report is None:
            return
        if report.unchanged:
            self.notify(f"{report.unchanged[0]}: nothing changed.")
            return
        verb, ids = ("added", report.created) if report.created else ("updated", report.updated)
        self.notify(f"{ids[0]} {verb}.", title="Saved")
        self.changed()

    def _imported(self, report: ImportReport | None) -> None:
        if report is None:
            return
        self.notify(
            f"{len(report.created)} new, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged nomination(s).",
            title="Imported",
        )
        self.changed()
