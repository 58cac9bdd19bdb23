"""Commit a proposal: a modal that asks who decides and why, and shows what is recorded.

Both answers are required (the audit log records them with every pilot).
Returns a :class:`CommitRequest`, or None when cancelled; the Selection
screen then commits in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

if TYPE_CHECKING:
    from ngc_pilot.facade import ProposalView


@dataclass(frozen=True)
class CommitRequest:
    by: str
    reason: str


class CommitScreen(ModalScreen[CommitRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "commit", "Commit", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, view: ProposalView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        data = self.view.data
        ids = ", ".join(s["id"] for s in data["selected"])
        certificate = (
            "certified optimal" if data["optimal"] else f"not proven optimal (gap {data['gap']})"
        )
        with Vertical(id="commit-dialog", classes="dialog"):
            yield Label("Commit the selection", classes="dialog-title")
            yield Static(
                f"{len(data['selected'])} pilots, objective {data['objective']:.2f}, {certificate}:\n"
                f"{ids}\n\nThis records the decision, the pilots with their planned dates, "
                "and audit entries. Name who decides and why.",
                id="commit-summary",
            )
            yield Label("Decided by", classes="field-label")
            yield Input(placeholder="e.g. NGC pilot steering group", id="commit-by")
            yield Label("Reason", classes="field-label")
            yield Input(
                placeholder="e.g. Round 1: selection under the shipped policy", id="commit-reason"
            )
            yield Static("", id="commit-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Commit (ctrl+s)", variant="warning", id="commit-go")
                yield Button("Cancel (esc)", id="commit-cancel")

    def on_mount(self) -> None:
        self.query_one("#commit-by", Input).focus()

    @on(Input.Submitted, "#commit-by")
    def _next(self) -> None:
        self.query_one("#commit-reason", Input).focus()

    @on(Input.Submitted, "#commit-reason")
    @on(Button.Pressed, "#commit-go")
    def action_commit(self) -> None:
        by = self.query_one("#commit-by", Input).value.strip()
        reason = self.query_one("#commit-reason", Input).value.strip()
        missing = [
            label for label, value in (("who decides", by), ("the reason", reason)) if not value
        ]
        error = self.query_one("#commit-error", Static)
        if missing:
            error.update("Give " + " and ".join(missing) + ".")
            error.set_class(True, "shown")
            self.query_one("#commit-by" if not by else "#commit-reason", Input).focus()
            return
        self.dismiss(CommitRequest(by, reason))

    @on(Button.Pressed, "#commit-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
