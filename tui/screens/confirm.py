"""A yes/no question before anything changes the cloud: ``ModalScreen[bool]``.

Shows what will happen (a plan, a list of pilots, a warning) and returns True
only on an explicit yes (``y`` or the button); ``n``, esc and the cancel
button return False.  The cancel button has the focus, so a stray enter on a
destructive question does nothing.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(
        self,
        title: str,
        body: RenderableType,
        *,
        yes: str = "Yes",
        danger: bool = False,
    ) -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.yes = yes
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            with VerticalScroll(id="confirm-scroll"):
                yield Static(self.body, id="confirm-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self.yes} (y)",
                    variant="error" if self.danger else "warning",
                    id="confirm-yes",
                )
                yield Button("Cancel (n / esc)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
