"""Requests: the pilots' change requests, and deciding them with a reason.

Lists every change request (extend, resize, add a member, data access) with
its status, pending ones first; the pane beside it shows the highlighted
request's justification and decision.  ``a`` approves and ``x`` rejects the
highlighted pending request: a reason is asked for, then confirmed, then the
decision runs in a worker (an approval applies the change through the
provisioner, so it may take a while).  Through the service facade only; it
never reaches the cloud itself, and it files no requests (``ngc-pilot
requests file``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.widgets.table import OpsTable, cursor_key

if TYPE_CHECKING:
    from ngc_pilot.facade import RequestRow

COLUMNS = (
    ("id", "#", 5),
    ("pilot", "pilot", 14),
    ("kind", "kind", 12),
    ("value", "wanted", 24),
    ("status", "status", 9),
    ("age", "waiting", 9),
    ("by", "filed by", 16),
)
STATUS_STYLE = {
    "pending": "bold yellow",
    "applied": "green",
    "approved": "green",
    "rejected": "dim",
    "failed": "bold red",
}


def age(seconds: int) -> str:
    days, rest = divmod(max(0, seconds), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def cells(row: RequestRow) -> tuple[Any, ...]:
    return (
        str(row.id),
        row.pilot_id,
        row.kind,
        row.value or "—",
        Text(row.status, style=STATUS_STYLE.get(row.status, "")),
        age(row.age_seconds) if row.status == "pending" else "",
        row.filed_by,
    )


def detail(row: RequestRow | None) -> Text:
    text = Text()
    if row is None:
        text.append("No request highlighted.", style="dim")
        return text
    text.append(f"Request {row.id}: {row.kind} for {row.pilot_id}\n", style="bold")
    if row.value:
        text.append(f"wanted: {row.value}\n")
    text.append(f"filed {row.filed_at[:16]} by {row.filed_by}\n")
    text.append(f"justification: {row.justification}\n\n")
    text.append(f"status: {row.status}\n", style=STATUS_STYLE.get(row.status, ""))
    if row.decided_by:
        text.append(f"decided {(row.decided_at or '')[:16]} by {row.decided_by}\n")
        text.append(f"reason: {row.reason}\n")
    if row.note:
        text.append(f"note: {row.note}\n", style="yellow")
    if row.error:
        text.append(f"error: {row.error}\n", style="red")
    if row.status == "pending":
        text.append("\na: approve (applies it) · x: reject", style="dim")
    return text


class RequestsScreen(OpsScreen):
    MODE = "requests"
    TITLE = "Requests"
    HELP = "Change requests from the pilots: approve (a) or reject (x) with a reason."
    AUTO_FOCUS = "#requests-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide(True)", "Approve", tooltip="Approve the request and apply it (a)"),
        Binding("x", "decide(False)", "Reject", tooltip="Reject the request (x)"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[RequestRow]) -> None:
            super().__init__()
            self.rows = rows

    class Decided(Message):
        def __init__(self, row: RequestRow | None, approve: bool) -> None:
            super().__init__()
            self.row = row
            self.approve = approve

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, RequestRow] = {}
        self.deciding: set[int] = set()

    def compose_body(self) -> ComposeResult:
        yield Static("Loading requests…", id="requests-status")
        with Horizontal(id="requests-body"):
            table: DataTable[Any] = OpsTable(
                id="requests-table", cursor_type="row", zebra_stripes=True
            )
            table.loading = True
            yield table
            with VerticalScroll(id="requests-detail-scroll"):
                yield Static("", id="requests-detail")

    def on_mount(self) -> None:
        table = self.query_one("#requests-table", DataTable)
        for key, header, width in COLUMNS:
            table.add_column(header, key=key, width=width)
        self.query_one("#requests-detail-scroll").border_title = "Request"

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading requests"):
            self.post_message(self.Loaded(self.services.requests()))

    def on_requests_screen_loaded(self, message: Loaded) -> None:
        rows = sorted(message.rows, key=lambda r: (r.status != "pending", r.id))
        self.rows = {str(r.id): r for r in rows}
        table = self.query_one("#requests-table", DataTable)
        keep = cursor_key(table)
        table.clear()
        for row in rows:
            table.add_row(*cells(row), key=str(row.id))
        table.loading = False
        self.focus_default()
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep))
        pending = [r for r in rows if r.status == "pending"]
        status = Text(f"{len(rows)} requests · ")
        if pending:
            oldest = max(r.age_seconds for r in pending)
            status.append(
                f"{len(pending)} pending, the oldest waiting {age(oldest)}",
                style="bold yellow" if oldest > 3 * 86400 else "yellow",
            )
        else:
            status.append("none pending", style="green")
        if not rows:
            status.append(
                "\nPilots file requests with `ngc-pilot requests file PILOT ...`.", style="dim"
            )
        self.query_one("#requests-status", Static).update(status)
        self.show_detail()

    def highlighted(self) -> RequestRow | None:
        key = cursor_key(self.query_one("#requests-table", DataTable))
        return self.rows.get(key) if key is not None else None

    @on(DataTable.RowHighlighted, "#requests-table")
    def show_detail(self) -> None:
        self.query_one("#requests-detail", Static).update(detail(self.highlighted()))

    # ------------------------------------------------------------------ deciding

    def action_decide(self, approve: bool) -> None:
        row = self.highlighted()
        if row is None:
            self.notify("No request highlighted.", severity="warning")
            return
        if row.status != "pending" or row.id in self.deciding:
            self.notify(f"Request {row.id} is already {row.status}.", severity="warning")
            return
        verb = "Approve" if approve else "Reject"
        self.app.push_screen(
            PromptScreen(
                f"{verb} request {row.id}?",
                f"{row.kind} {row.value} for {row.pilot_id}. The reason is told to the PI "
                "and kept in the audit log.",
                placeholder="reason",
                check=lambda text: None if text.strip() else "give a reason",
                ok=verb,
            ),
            lambda reason: self._confirm(row, approve, reason) if reason else None,
        )

    def _confirm(self, row: RequestRow, approve: bool, reason: str) -> None:
        body = Text()
        body.append(f"{row.kind} {row.value} for {row.pilot_id}\nreason: {reason}\n\n")
        body.append(
            "Approving applies it through the provisioner now (quotas, a renewed credential, "
            "a role) after the capacity check; the PI is e-mailed the decision."
            if approve
            else "The PI is e-mailed the decision; nothing else changes.",
            style="dim",
        )
        verb = "Approve" if approve else "Reject"
        self.app.push_screen(
            ConfirmScreen(f"{verb} request {row.id}?", body, yes=verb, danger=not approve),
            lambda yes: self._start(row, approve, reason) if yes else None,
        )

    def _start(self, row: RequestRow, approve: bool, reason: str) -> None:
        self.deciding.add(row.id)
        self._decide(row.id, approve, reason)

    @work(thread=True, group="decide")
    def _decide(self, request_id: int, approve: bool, reason: str) -> None:
        decided = None
        verb = "Approving" if approve else "Rejecting"
        with reported(self, f"{verb} request {request_id}"):
            if approve:
                decided = self.services.approve_request(request_id, reason)
            else:
                decided = self.services.reject_request(request_id, reason)
        self.deciding.discard(request_id)
        self.post_message(self.Decided(decided, approve))

    def on_requests_screen_decided(self, message: Decided) -> None:
        row = message.row
        if row is not None:
            failed = row.status == "failed"
            self.notify(
                f"Request {row.id}: {row.status}" + (f": {row.error}" if failed else ""),
                title="Request decided",
                severity="error" if failed else "information",
                markup=False,
            )
        self.changed()
