"""Capacity: the cloud's capacity, the tenants' quotas and use, and the planned pilots.

From the service facade's capacity overview: Placement's capacity as the
latest capacity snapshot recorded it, each tenant's quotas beside what it was
metered using, and, month by month, what the committed pilots' nominations
request over their planned dates against the policy's capacity.  It never asks
the cloud itself; an empty part says what fills it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui.errors import reported
from tui.screens.base import OpsScreen

if TYPE_CHECKING:
    from ngc_pilot.facade import CapacityOverview


class CapacityScreen(OpsScreen):
    MODE = "capacity"
    TITLE = "Capacity"
    AUTO_FOCUS = "#cap-body"
    BINDINGS: ClassVar[list[BindingType]] = []

    class Loaded(Message):
        def __init__(self, overview: CapacityOverview) -> None:
            super().__init__()
            self.overview = overview

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="cap-body"):
            yield Static("Loading…", id="cap-summary")
            yield Static("", id="cap-cloud")
            yield Static("", id="cap-tenants")
            yield Static("", id="cap-months")
            from tui.widgets.timeline import AllocationPlot  # plotext: only once shown

            yield AllocationPlot(id="cap-plot")
            yield Static("", id="cap-gantt")

    def on_mount(self) -> None:
        self.query_one("#cap-cloud").border_title = "Cloud capacity"
        self.query_one("#cap-tenants").border_title = "Tenants: quotas and metered use"
        self.query_one("#cap-months").border_title = "Planned: peak request per month"
        self.query_one("#cap-gantt").border_title = "Planned pilots"

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading capacity"):
            self.post_message(self.Loaded(self.services.capacity_overview()))

    def on_capacity_screen_loaded(self, message: Loaded) -> None:
        overview = message.overview
        t = overview.timeline
        summary = Text()
        summary.append(f"Pilot period {t.period_start} → {t.period_end}", style="bold")
        decisions = sorted({p.decision_id for p in t.pilots})
        if t.pilots:
            summary.append(
                f" · {len(t.pilots)} active pilots (decision "
                + ", ".join(f"#{d}" for d in decisions)
                + ")"
            )
        else:
            summary.append(" · no committed pilots yet", style="yellow")
        summary.append(
            "\nCloud capacity and tenants: what the cloud has and what each tenant may and "
            "did use. Planned: what the pilots' nominations request over their planned dates.",
            style="dim",
        )
        if not t.pilots:
            summary.append(
                "\nCommit a selection on the Selection screen (2) or with "
                "`ngc-pilot select --commit` to see it here.",
                style="yellow",
            )
        self.query_one("#cap-summary", Static).update(summary)
        from tui.widgets.capacity_tables import placement_view, tenants_view
        from tui.widgets.timeline import AllocationPlot, gantt_table, months_table

        self.query_one("#cap-cloud", Static).update(placement_view(overview))
        self.query_one("#cap-tenants", Static).update(tenants_view(overview))

        self.query_one("#cap-months", Static).update(months_table(t))
        self.query_one(AllocationPlot).show(t)
        self.query_one("#cap-gantt", Static).update(gantt_table(t))
