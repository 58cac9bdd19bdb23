"""Usage & billing: metered use and shadow invoices — not built yet, and said so.

Metering, rating and invoices arrive with issue 4.  Until then this screen
shows no numbers at all (there are none), only what will appear and which
commands bring it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType

from tui.screens.base import OpsScreen
from tui.widgets.not_yet import NotYet


class UsageScreen(OpsScreen):
    MODE = "usage"
    TITLE = "Usage & billing"
    BINDINGS: ClassVar[list[BindingType]] = []

    def compose_body(self) -> ComposeResult:
        yield NotYet(
            "nothing is metered or priced; there are no tenants to meter yet and no price list.",
            [
                "usage per tenant over time (vCPU-, RAM GB-, storage- and GPU-hours) as "
                "plots in the terminal",
                "the shadow invoice of a month per tenant: list price, the 100 % pilot "
                "discount, the charged amount (zero during the pilot)",
                "a what-if: the same usage priced with another price list",
            ],
            "issue 4, metering and shadow billing (`ngc-pilot meter`, `ngc-pilot invoice`), "
            "after the tenants of issue 3.",
            id="usage-not-yet",
        )
