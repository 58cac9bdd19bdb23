"""An honest "not built yet" panel: what will appear here, and what brings it.

Screens whose backend has not landed show this instead of invented data, so
nobody mistakes a placeholder for the state of the pilot.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static


def not_yet_text(what: str, will_show: Sequence[str], brought_by: str) -> Text:
    text = Text()
    text.append("Not available yet: ", style="bold yellow")
    text.append(what)
    text.append("\n\nWhat will appear here:", style="bold")
    for line in will_show:
        text.append(f"\n  • {line}")
    text.append("\n\nWhat brings it: ", style="bold")
    text.append(brought_by)
    return text


class NotYet(Static):
    def __init__(
        self, what: str, will_show: Sequence[str], brought_by: str, **kwargs: object
    ) -> None:
        super().__init__(not_yet_text(what, will_show, brought_by), classes="not-yet", **kwargs)  # type: ignore[arg-type]
