"""Jobs: the scheduler's jobs — not built yet, and said so.

The scheduler service (``ngc-pilot serve``) arrives with issue 4; until then
there are no jobs, runs or results to show.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType

from tui.screens.base import OpsScreen
from tui.widgets.not_yet import NotYet


class JobsScreen(OpsScreen):
    MODE = "jobs"
    TITLE = "Jobs"
    BINDINGS: ClassVar[list[BindingType]] = []

    def compose_body(self) -> ComposeResult:
        yield NotYet(
            "no scheduler runs; ngc-pilot has no background service yet.",
            [
                "each scheduled job (metering, capacity snapshot, reconcile, expiry, "
                "data-access switch) with its last run, result and next run",
                "failed runs and their retries",
            ],
            "issue 4, the scheduler service (`ngc-pilot serve`, `ngc-pilot jobs`).",
            id="jobs-not-yet",
        )
