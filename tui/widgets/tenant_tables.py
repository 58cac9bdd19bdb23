"""The Tenants screen's two detail tables: a tenant's step ledger and the isolation probes.

Each table knows its own columns and how to show its data (newest step
first; leaks first, in red), so the screen only hands it what it loaded.
Neither reads the database or the cloud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from tui.widgets.table import OpsTable

if TYPE_CHECKING:
    from ngc_pilot.facade import Probe, TenantDetail

STEP_COLUMNS = (
    ("at", "at (UTC)", 14),
    ("run", "run", 12),
    ("status", "status", 6),
    ("step", "step", 40),
    ("id", "resource id / error", 20),
)
PROBE_COLUMNS = (
    ("from", "from tenant", 14),
    ("target", "probes", 14),
    ("what", "what", 28),
    ("result", "result", 9),
    ("detail", "detail", 40),
)


class StepLedger(OpsTable):
    """A tenant's step ledger, newest step first; failed steps show their error in red."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        self.border_title = "Step ledger"
        for key, header, width in STEP_COLUMNS:
            self.add_column(header, key=key, width=width)

    def show(self, detail: TenantDetail | None) -> None:
        self.clear()
        if detail is None:
            self.border_title = "Step ledger"
            return
        for i, s in enumerate(reversed(detail.steps)):  # newest first
            failed = s.status == "failed"
            self.add_row(
                s.at[5:19].replace("T", " "),
                s.run,
                Text(s.status, style="bold red" if failed else "green"),
                s.step,
                Text(s.error or "", style="red") if failed else (s.resource_id or ""),
                key=str(i),
            )
        self.border_title = f"Step ledger of {detail.pilot_id}: {len(detail.steps)} step(s)"


class ProbeTable(OpsTable):
    """Every tenant probing every other one with its own credential: leaks first."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        self.border_title = "Isolation: not verified in this session (v)"
        for key, header, width in PROBE_COLUMNS:
            self.add_column(header, key=key, width=width)

    def probing(self) -> None:
        self.border_title = "Isolation: probing every tenant with every other tenant's credential…"

    def failed(self) -> None:
        self.border_title = "Isolation: the check failed (see the notification)"

    def show(self, probes: list[Probe], at: str) -> list[Probe]:
        """Show ``probes`` (checked at ``at``); returns the leaks."""
        self.clear()
        leaks = [p for p in probes if p.leaked]
        # Leaks first, so they are seen even in a long table.
        for i, p in enumerate(sorted(probes, key=lambda p: not p.leaked)):
            style = "bold red" if p.leaked else ""
            self.add_row(
                Text(p.from_pilot, style=style),
                Text(p.target, style=style),
                Text(p.what, style=style),
                Text("LEAK", style="bold white on red") if p.leaked else Text("isolated", "green"),
                Text(p.detail, style=style or "dim"),
                key=str(i),
            )
        if not probes:
            self.border_title = "Isolation: no active tenant to verify"
            return leaks
        verdict = f"{len(leaks)} LEAK(S)" if leaks else "no leaks: every tenant is isolated"
        self.border_title = f"Isolation at {at}: {len(probes)} probes, {verdict}"
        return leaks
