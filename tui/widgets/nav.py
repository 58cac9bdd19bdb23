"""The screen bar: every screen with its key, the current one highlighted, clickable.

Operators see at a glance where they are and how to get anywhere (k9s-style);
the mouse works too (each name is a link to its screen).
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class NavBar(Static):
    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def on_mount(self) -> None:
        from tui.screens import SCREENS  # the screens import this widget

        parts = []
        for n, screen in enumerate(SCREENS, start=1):
            style = "b reverse " if screen.MODE == self.current else ""
            parts.append(
                Content.from_markup(
                    f"[{style}@click=app.switch_mode('{screen.MODE}')] $n $title [/]",
                    n=str(n),
                    title=screen.TITLE,
                )
            )
        self.update(Content("│").join(parts))
