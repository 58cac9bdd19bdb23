"""Capacity: what the committed pilots take from the pilot's capacity, month by month.

Built on what exists today: the committed pilots' planned start and end and
the resources their nominations request, against the policy's capacity.  The
quotas actually set on tenant clouds and the capacity measured in the cloud
replace the requests when provisioning (issue 3) and metering (issue 4) land.
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
    from ngc_pilot.views import CapacityTimeline


class CapacityScreen(OpsScreen):
    MODE = "capacity"
    TITLE = "Capacity"
    AUTO_FOCUS = "#cap-body"
    BINDINGS: ClassVar[list[BindingType]] = []

    class Loaded(Message):
        def __init__(self, timeline: CapacityTimeline) -> None:
            super().__init__()
            self.timeline = timeline

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="cap-body"):
            yield Static("Loading…", id="cap-summary")
            yield Static("", id="cap-months")
            from tui.widgets.timeline import AllocationPlot  # plotext: only once shown

            yield AllocationPlot(id="cap-plot")
            yield Static("", id="cap-gantt")

    def on_mount(self) -> None:
        self.query_one("#cap-months").border_title = "Peak allocation per month"
        self.query_one("#cap-gantt").border_title = "Planned pilots"

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading capacity"):
            self.post_message(self.Loaded(self.services.capacity()))

    def on_capacity_screen_loaded(self, message: Loaded) -> None:
        t = message.timeline
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
            "\nAllocation = the resources the pilots' nominations request, over their planned "
            "dates. Quotas set on tenant clouds replace it when provisioning (issue 3, "
            "`ngc-pilot provision`) lands; measured use arrives with metering (issue 4).",
            style="dim",
        )
        if not t.pilots:
            summary.append(
                "\nCommit a selection on the Selection screen (2) or with "
                "`ngc-pilot select --commit` to see it here.",
                style="yellow",
            )
        self.query_one("#cap-summary", Static).update(summary)
        from tui.widgets.timeline import AllocationPlot, gantt_table, months_table

        self.query_one("#cap-months", Static).update(months_table(t))
        self.query_one(AllocationPlot).show(t)
        self.query_one("#cap-gantt", Static).update(gantt_table(t))
