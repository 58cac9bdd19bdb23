"""The answer to "why is this project not selected?", as a dismissable modal."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.widgets.explanation import render_why_not


class WhyNotScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q,w", "close", "Close"),
    ]

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer

    def compose(self) -> ComposeResult:
        with Vertical(id="why-dialog", classes="dialog"):
            yield Label(f"Why not {self.answer.get('id', '')}?", classes="dialog-title")
            with VerticalScroll():
                yield Static(render_why_not(self.answer), id="why-answer")
            yield Static("esc: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
