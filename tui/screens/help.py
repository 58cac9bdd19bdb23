"""Help: the keys of the screen you are on and the global ones, read from the bindings.

Built from the bindings themselves, so it can never disagree with the footer
or the command palette.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

GLOBAL_KEYS = (
    ("1 … 7", "switch screen (or click its name in the screen bar)"),
    ("ctrl+p", "command palette: every action of this screen, every screen"),
    ("ctrl+r", "read the database again"),
    ("tab / shift+tab", "move between panes and fields"),
    ("↑ ↓ pgup pgdn home end", "move in tables"),
    ("?  f1", "this help"),
    ("q  ctrl+q", "quit"),
)


def _keys_table(screen: Screen) -> Table:
    table = Table("key", "action", box=None, header_style="bold", pad_edge=False)
    seen = set()
    for cls in type(screen).__mro__:
        if cls is Screen:
            break
        for binding in cls.__dict__.get("BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or binding.key
            table.add_row(key, binding.tooltip or binding.description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        title = self.for_screen.title or "ngc-pilot"
        keys = Table("key", "action", box=None, header_style="bold", pad_edge=False)
        for key, what in GLOBAL_KEYS:
            keys.add_row(key, what)
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label(f"Help — {title}", classes="dialog-title")
            with VerticalScroll():
                yield Static(_keys_table(self.for_screen), id="help-screen-keys")
                yield Static("")
                yield Static(keys, id="help-global-keys")
                notes = getattr(self.for_screen, "HELP", "")
                if notes:
                    yield Static(notes, id="help-screen-notes", markup=False)
                yield Static(
                    "\nSlow work (loading, solving, importing, planning, applying, tearing "
                    "down, verifying) runs in the background; the screen stays usable. "
                    "Anything that changes the cloud asks first (y: yes, n / esc: no). "
                    "Errors appear as notifications, with every problem named.",
                    classes="hint",
                )
            yield Static("esc: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
