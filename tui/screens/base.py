"""What every top-level screen shares: the frame, the services, reloading.

A screen shows a header, the screen bar (``NavBar``), its body and the footer
with its keys.  It loads its data in a thread worker when first shown and
again when shown after something was written elsewhere (the app's data
version moved on), or on ctrl+r.  Screens never block the UI thread on the
database or the solver.

Screens stay mounted between visits (one per mode).  Textual re-applies the
whole stylesheet to every widget of a screen each time it is shown again —
most of a screen switch's time (``bench/tui.py``).  A screen here asks for
that only when something its styles depend on changed while it was hidden:
the app's CSS or theme (Textual counts those changes) or the app's own pseudo
classes (focus, dark/light, …).  Changes inside the screen restyle their
widgets when they happen, hidden or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header

from tui.widgets.footer import OpsFooter
from tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from ngc_pilot.facade import Services
    from tui.app import OpsApp


class OpsScreen(Screen[None]):
    MODE: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""  # what the help screen says about this screen, beside its keys
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reload", "Reload", tooltip="Read the database again (ctrl+r)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._loaded_version: int | None = None
        self._styled_for: tuple[object, ...] | None = None

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
        yield OpsFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def _style_inputs(self) -> tuple[object, ...]:
        app = self.app
        return (app._css_update_count, app.pseudo_classes, frozenset(app.classes))

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen's own handler (subclass first), which reads refresh_styles.
        inputs = self._style_inputs()
        if inputs == self._styled_for:
            event.refresh_styles = False
        self._styled_for = inputs
        if self._loaded_version != self.ops.data_version:
            self.action_reload()

    def action_reload(self) -> None:
        self._loaded_version = self.ops.data_version
        self.load()

    def load(self) -> None:
        """Start the worker that loads this screen's data (screens override)."""

    def focus_default(self) -> None:
        """Focus the screen's main widget if nothing has the focus.

        Textual focuses ``AUTO_FOCUS`` when a screen is shown, but a table that is
        still loading cannot take it; screens call this once their data is in, so
        the arrow keys work without a tab first.
        """
        if self.focused is None and self.AUTO_FOCUS:
            for widget in self.query(self.AUTO_FOCUS):
                if widget.focusable:
                    self.set_focus(widget)
                    break

    def changed(self) -> None:
        """This screen wrote something: every screen reloads when next shown, this one now."""
        self.ops.data_version += 1
        self.action_reload()
