"""Tenants: the pilots' tenant clouds — for now, the committed pilots awaiting one.

Provisioning (issue 3) has not landed, so there is no tenant state, plan,
apply/teardown, progress, isolation check or researcher environment to show.
The screen says so and lists what exists: the pilots a tenant will be made
for, in state "selected", with their planned dates.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from ngc_pilot.views import PilotView
from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.widgets.not_yet import NotYet


class TenantsScreen(OpsScreen):
    MODE = "tenants"
    TITLE = "Tenants"
    AUTO_FOCUS = "#tenants-pilots"
    BINDINGS: ClassVar[list[BindingType]] = []

    class Loaded(Message):
        def __init__(self, pilots: list[PilotView]) -> None:
            super().__init__()
            self.pilots = pilots

    def compose_body(self) -> ComposeResult:
        with Vertical(id="tenants-body"):
            yield NotYet(
                "no tenant cloud has been provisioned; the provisioner is not part of "
                "ngc-pilot yet.",
                [
                    "the state of every pilot's tenant (OpenStack project, network, quotas, "
                    "optional Kubernetes namespace)",
                    "the plan (diff) before apply; apply and teardown with confirmation",
                    "live per-step progress while the provisioner runs",
                    "the isolation verification result and the researcher environment location",
                ],
                "issue 3, the OpenStack tenant provisioner (`ngc-pilot provision`, "
                "`ngc-pilot tenants`).",
                id="tenants-not-yet",
            )
            table: DataTable[Any] = DataTable(
                id="tenants-pilots", cursor_type="row", zebra_stripes=True
            )
            table.border_title = "Committed pilots (a tenant will be provisioned for each)"
            yield table

    def on_mount(self) -> None:
        table = self.query_one("#tenants-pilots", DataTable)
        for header in (
            "pilot",
            "name",
            "institution",
            "state",
            "decision",
            "planned start",
            "planned end",
            "tenant",
        ):
            table.add_column(header)

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading pilots"):
            self.post_message(self.Loaded(self.services.pilots()))

    def on_tenants_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one("#tenants-pilots", DataTable)
        table.clear()
        for p in sorted(message.pilots, key=lambda p: p.id):
            table.add_row(
                p.id,
                p.name if len(p.name) <= 36 else p.name[:35] + "…",
                p.institution if len(p.institution) <= 28 else p.institution[:27] + "…",
                Text(p.state, style="cyan" if p.state == "selected" else "dim"),
                f"#{p.decision_id}",
                p.planned_start.isoformat(),
                p.planned_end.isoformat(),
                Text("not provisioned", style="yellow" if p.state == "selected" else "dim"),
                key=p.id,
            )
        if not message.pilots:
            table.border_subtitle = "none yet: commit a selection on the Selection screen (2)"
        else:
            table.border_subtitle = f"{sum(p.state == 'selected' for p in message.pilots)} selected"
