"""What every top-level screen shares: the frame, the services, reloading.

A screen shows a header, the screen bar (``NavBar``), its body and the footer
with its keys.  It loads its data in a thread worker when first shown and
again when shown after something was written elsewhere (the app's data
version moved on), or on ctrl+r.  Screens never block the UI thread on the
database or the solver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from tui.app import OpsApp
    from tui.services import Services


class OpsScreen(Screen[None]):
    MODE: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reload", "Reload", tooltip="Read the database again (ctrl+r)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._loaded_version: int | None = None

    @property
    def ops(self) -> OpsApp:
        return self.app  # type: ignore[return-value]

    @property
    def services(self) -> Services:
        return self.ops.services

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        if self._loaded_version != self.ops.data_version:
            self.action_reload()

    def action_reload(self) -> None:
        self._loaded_version = self.ops.data_version
        self.load()

    def load(self) -> None:
        """Start the worker that loads this screen's data (screens override)."""

    def changed(self) -> None:
        """This screen wrote something: every screen reloads when next shown, this one now."""
        self.ops.data_version += 1
        self.action_reload()
