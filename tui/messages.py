"""Typed messages that workers and screens post to the app.

Workers run service calls in threads and never touch widgets; they post one
of these (or a screen's own typed result message) and the UI thread reacts.
"""

from __future__ import annotations

from textual.message import Message


class ServiceFailed(Message):
    """A service call failed; the app shows it as a notification, never a traceback."""

    def __init__(self, action: str, error: BaseException) -> None:
        super().__init__()
        self.action = action
        self.error = error
