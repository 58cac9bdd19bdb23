"""A modal that asks for one line of text (a month, a file) and checks it before closing.

Used by the Usage & billing screen (go to a month, the what-if's price list);
the caller passes the check, so this knows nothing about months or files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a month, a file); ``check`` returns a problem or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        explanation: str,
        *,
        value: str = "",
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
        ok: str = "OK",
    ) -> None:
        super().__init__()
        self.question = title
        self.explanation = explanation
        self.value = value
        self.placeholder = placeholder
        self.check = check
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog", classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Static(self.explanation, classes="hint", markup=False)
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.ok} (enter)", variant="primary", id="prompt-ok")
                yield Button("Cancel (esc)", id="prompt-cancel")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted, "#prompt-input")
    @on(Button.Pressed, "#prompt-ok")
    def _submit(self) -> None:
        value = self.query_one("#prompt-input", Input).value.strip()
        problem = self.check(value) if self.check else None
        if problem:
            error = self.query_one("#prompt-error", Static)
            error.update(problem)
            error.set_class(True, "shown")
            return
        self.dismiss(value)

    @on(Button.Pressed, "#prompt-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
