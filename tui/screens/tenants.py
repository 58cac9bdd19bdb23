"""Tenants: every pilot's tenant cloud — state, plan, apply, teardown, isolation, environment.

The table lists every committed pilot with its tenant's state (or why it has
none: not provisioned yet, waiting for a signed data processing agreement,
withdrawn).  Below it, for the highlighted pilot: its facts, quotas and step
ledger; the plan (the diff apply would make, computed from the cloud without
changing it); the isolation verification of all tenants; and where its
researcher environment is and what it holds (never the secret).

Everything that touches the cloud runs in a thread worker through
``ngc_pilot.facade``; apply and teardown ask first (``ConfirmScreen``).  While
the provisioner runs, its progress callback (called from its own worker
threads) posts ``StepDone`` messages, so the row and the ledger move step by
step and the screen stays usable.  Failures, including the provisioner's
gates (agreement, capacity) and an unreachable cloud, become notifications.

One piece (over 400 lines) because every action (plan, apply, apply all,
teardown, verify) changes the same per-pilot state (busy, progress, plans)
that the table row, the status line and the detail tabs all show; the
rendering lives in ``tui.widgets.tenant_panels`` and ``tenant_tables``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.screens.confirm import ConfirmScreen
from tui.widgets.table import OpsTable, cursor_key
from tui.widgets.tenant_panels import (
    STATE_STYLES,
    confirm_apply_all_text,
    confirm_apply_text,
    confirm_teardown_text,
    note_text,
    render_environment,
    render_facts,
    render_plan,
    short,
    state_text,
)
from tui.widgets.tenant_tables import ProbeTable, StepLedger

if TYPE_CHECKING:
    from ngc_pilot.facade import (
        PlanView,
        Probe,
        TeardownView,
        TenantDetail,
        TenantOutcome,
        TenantRow,
        TenantsOverview,
    )

# key, header, width (fixed: the table never measures its cells)
COLUMNS = (
    ("pilot", "pilot", 12),
    ("name", "name", 21),
    ("state", "tenant", 21),
    ("size", "size", 6),
    ("project", "project", 16),
    ("cidr", "network", 15),
    ("start", "start", 10),
    ("end", "end", 10),
    ("note", "progress · environment", 27),
    ("platform", "platform", 20),  # last: the columns before keep their places
)


class TenantsScreen(OpsScreen):
    MODE = "tenants"
    TITLE = "Tenants"
    AUTO_FOCUS = "#ten-table"
    HELP = (
        "\nTenant states: not provisioned → planned → provisioning → active "
        "(or failed: apply again to resume) → torn_down. A selected pilot whose data "
        "processing agreement is not signed waits and gets no tenant. Apply first shows "
        "the plan and asks; teardown asks; the step ledger (s) records every step. "
        "Verify (v) probes every active tenant with every other tenant's credential: "
        "any LEAK is shown in red. The environment tab (e) shows where the researcher "
        "bundle is; its secret is never shown."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "plan", "Plan", tooltip="Show what apply would change (p)"),
        Binding("a", "apply", "Apply", tooltip="Create or converge the highlighted tenant (a)"),
        Binding(
            "A",
            "apply_all",
            "Apply all",
            show=False,
            tooltip="Apply every selected pilot with a signed agreement (A)",
        ),
        Binding("t", "teardown", "Teardown", tooltip="Remove the highlighted tenant (t)"),
        Binding("v", "verify", "Verify", tooltip="Probe every tenant's isolation (v)"),
        Binding(
            "s", "tab('tab-steps')", "Steps", show=False, tooltip="Tenant facts and step ledger (s)"
        ),
        Binding(
            "e",
            "tab('tab-env')",
            "Environment",
            show=False,
            tooltip="Where the researcher environment is and what it holds (e)",
        ),
    ]

    # ------------------------------------------------------------- messages

    class Loaded(Message):
        def __init__(self, overview: TenantsOverview) -> None:
            super().__init__()
            self.overview = overview

    class DetailLoaded(Message):
        def __init__(self, detail: TenantDetail) -> None:
            super().__init__()
            self.detail = detail

    class Planned(Message):
        """A plan was computed; ``then_apply``: ask to apply it next."""

        def __init__(self, pilot_id: str, plan: PlanView | None, then_apply: bool) -> None:
            super().__init__()
            self.pilot_id = pilot_id
            self.plan = plan
            self.then_apply = then_apply

    class StepDone(Message):
        """The provisioner finished one step (posted from its worker threads)."""

        def __init__(self, pilot_id: str, step: str, index: int, total: int) -> None:
            super().__init__()
            self.pilot_id = pilot_id
            self.step = step
            self.index = index
            self.total = total

    class Applied(Message):
        """Apply ended; ``outcomes`` is None when it failed as a whole (already reported)."""

        def __init__(self, pilot_ids: tuple[str, ...], outcomes: list[TenantOutcome] | None):
            super().__init__()
            self.pilot_ids = pilot_ids
            self.outcomes = outcomes

    class TornDown(Message):
        def __init__(self, pilot_id: str, outcome: TeardownView | None) -> None:
            super().__init__()
            self.pilot_id = pilot_id
            self.outcome = outcome

    class Verified(Message):
        def __init__(self, probes: list[Probe] | None) -> None:
            super().__init__()
            self.probes = probes

    # ---------------------------------------------------------------- layout

    def __init__(self) -> None:
        super().__init__()
        self.overview: TenantsOverview | None = None
        self.rows: dict[str, TenantRow] = {}
        self.detail: TenantDetail | None = None
        self.plans: dict[str, PlanView] = {}
        self.busy: dict[str, str] = {}  # pilot -> what is being done to it
        self.progress: dict[str, tuple[int, int, str]] = {}  # pilot -> (index, total, step)
        self.probes: list[Probe] | None = None
        self.verifying = False
        self.verified_at: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Loading tenants…", id="ten-status")
        table: DataTable[Any] = OpsTable(id="ten-table", cursor_type="row", zebra_stripes=True)
        table.loading = True
        yield table
        with TabbedContent(id="ten-tabs", initial="tab-steps"):
            with TabPane("Tenant & steps (s)", id="tab-steps"):
                with Horizontal():
                    with VerticalScroll(id="ten-facts-scroll"):
                        yield Static("", id="ten-facts")
                    yield StepLedger(id="ten-steps")
            with TabPane("Plan (p)", id="tab-plan"):
                with VerticalScroll(id="ten-plan-scroll"):
                    yield Static("", id="ten-plan")
            with TabPane("Isolation (v)", id="tab-isolation"):
                with Vertical():
                    yield ProbeTable(id="ten-probes")
            with TabPane("Environment (e)", id="tab-env"):
                with VerticalScroll(id="ten-env-scroll"):
                    yield Static("", id="ten-env")

    def on_mount(self) -> None:
        table = self.query_one("#ten-table", DataTable)
        for key, header, width in COLUMNS:
            table.add_column(header, key=key, width=width)
        self.query_one("#ten-facts-scroll").border_title = "Tenant"

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading tenants"):
            self.post_message(self.Loaded(self.services.tenants()))

    def on_tenants_screen_loaded(self, message: Loaded) -> None:
        self.overview = message.overview
        self.rows = {r.pilot_id: r for r in message.overview.rows}
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        for row in message.overview.rows:
            table.add_row(*self._cells(row), key=row.pilot_id)
        table.loading = False
        self.focus_default()
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep))
        if not self.rows:
            table.border_title = "No pilots yet: commit a selection on the Selection screen (2)"
        else:
            table.border_title = f"{len(self.rows)} pilots"
        self.update_status()
        self.show_highlighted()

    def _cells(self, row: TenantRow) -> list[Any]:
        return [
            row.pilot_id,
            Text(short(row.name, 21)),
            state_text(row, self._busy_label(row.pilot_id)),
            row.size or "—",
            row.project or "—",
            row.cidr or "—",
            row.planned_start.isoformat(),
            row.planned_end.isoformat(),
            note_text(row, self.progress.get(row.pilot_id)),
            row.platforms or "—",
        ]

    def _busy_label(self, pilot_id: str) -> str | None:
        what = self.busy.get(pilot_id)
        if what is None:
            return None
        progress = self.progress.get(pilot_id)
        return f"⏳ {what} {progress[0]}/{progress[1]}" if progress else f"⏳ {what}…"

    def refresh_row(self, pilot_id: str) -> None:
        row = self.rows.get(pilot_id)
        if row is None:
            return
        table = self.table
        try:
            table.update_cell(pilot_id, "state", state_text(row, self._busy_label(pilot_id)))
            table.update_cell(pilot_id, "note", note_text(row, self.progress.get(pilot_id)))
        except Exception:  # the row went away with a reload; the next load shows it
            pass

    def update_status(self) -> None:
        status = Text()
        overview = self.overview
        if overview is None:
            status.append("Loading tenants…", style="dim")
        else:
            counts = overview.counts()
            status.append(f"{len(overview.rows)} pilots: ")
            parts = [
                (f"{n} {state}", STATE_STYLES.get(state, ""))
                for state, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            ]
            for i, (label, style) in enumerate(parts):
                status.append((" · " if i else "") + label, style=style)
            status.append(f"   cloud: {overview.cloud or 'not configured'}", style="dim")
            status.append("\nWaiting for a signed data processing agreement: ")
            waiting = list(overview.waiting)
            shown = ", ".join(waiting[:8]) + (
                f" … and {len(waiting) - 8} more" if len(waiting) > 8 else ""
            )
            status.append(shown or "none", style="magenta")
        running = []
        for pid, what in sorted(self.busy.items()):
            progress = self.progress.get(pid)
            running.append(
                f"{what} {pid}" + (f" ({progress[0]}/{progress[1]})" if progress else "")
            )
        if self.verifying:
            running.append("verifying isolation")
        if running:
            status.append("   ⏳ " + ", ".join(running), style="bold yellow")
        self.query_one("#ten-status", Static).update(status)

    # ------------------------------------------------------- highlighted pilot

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#ten-table", DataTable)

    def highlighted_id(self) -> str | None:
        return cursor_key(self.table)

    def highlighted_row(self) -> TenantRow | None:
        pid = self.highlighted_id()
        row = self.rows.get(pid) if pid else None
        if row is None:
            self.notify("No pilot highlighted.", severity="warning")
        return row

    @on(DataTable.RowHighlighted, "#ten-table")
    def _highlighted(self) -> None:
        self.show_highlighted()

    def show_highlighted(self) -> None:
        pid = self.highlighted_id()
        row = self.rows.get(pid) if pid else None
        detail = self.detail if self.detail and self.detail.pilot_id == pid else None
        self.query_one("#ten-facts", Static).update(render_facts(row, detail))
        self.query_one("#ten-plan", Static).update(render_plan(self.plans.get(pid or ""), pid))
        self.query_one("#ten-env", Static).update(
            render_environment(detail.environment if detail else None, pid)
        )
        self.query_one(StepLedger).show(detail)
        if pid is not None:
            self._load_detail(pid)

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(self, pilot_id: str) -> None:
        with reported(self, f"Loading {pilot_id}"):
            self.post_message(self.DetailLoaded(self.services.tenant_detail(pilot_id)))

    def on_tenants_screen_detail_loaded(self, message: DetailLoaded) -> None:
        detail = message.detail
        if detail.pilot_id != self.highlighted_id():
            return  # the cursor moved on meanwhile
        self.detail = detail
        self.query_one("#ten-facts", Static).update(
            render_facts(self.rows.get(detail.pilot_id), detail)
        )
        self.query_one("#ten-env", Static).update(
            render_environment(detail.environment, detail.pilot_id)
        )
        self.query_one(StepLedger).show(detail)

    # ---------------------------------------------------------------- actions

    def action_tab(self, tab: str) -> None:
        self.query_one("#ten-tabs", TabbedContent).active = tab

    def _refuse_busy(self, pilot_id: str) -> bool:
        if pilot_id in self.busy:
            self.notify(
                f"{pilot_id}: {self.busy[pilot_id]} is still running; wait for it.",
                severity="warning",
            )
            return True
        return False

    def action_plan(self) -> None:
        row = self.highlighted_row()
        if row is None:
            return
        self.action_tab("tab-plan")
        self.query_one("#ten-plan", Static).update(
            Text(f"Computing the plan of {row.pilot_id} from the cloud…", style="yellow")
        )
        self._plan(row.pilot_id, then_apply=False)

    def action_apply(self) -> None:
        row = self.highlighted_row()
        if row is None or self._refuse_busy(row.pilot_id):
            return
        self.busy[row.pilot_id] = "planning"
        self.refresh_row(row.pilot_id)
        self.update_status()
        self._plan(row.pilot_id, then_apply=True)

    @work(thread=True, group="plan")
    def _plan(self, pilot_id: str, then_apply: bool) -> None:
        plan = None
        with reported(self, f"Plan for {pilot_id}"):
            plan = self.services.plan(pilot_id)
        self.post_message(self.Planned(pilot_id, plan, then_apply))

    def on_tenants_screen_planned(self, message: Planned) -> None:
        pid = message.pilot_id
        if message.then_apply:
            self.busy.pop(pid, None)
            self.refresh_row(pid)
            self.update_status()
        if message.plan is None:  # failed; the notification says why
            if pid == self.highlighted_id():
                self.query_one("#ten-plan", Static).update(render_plan(None, pid))
            return
        self.plans[pid] = message.plan
        if pid == self.highlighted_id():
            self.query_one("#ten-plan", Static).update(render_plan(message.plan, pid))
        if message.then_apply:
            row = self.rows.get(pid)
            if row is None:
                return
            self.action_tab("tab-plan")
            self.app.push_screen(
                ConfirmScreen(
                    f"Apply the plan to the tenant of {pid}?",
                    confirm_apply_text(row, message.plan),
                    yes="Apply",
                ),
                lambda yes: self._start_apply((pid,)) if yes else None,
            )

    def action_apply_all(self) -> None:
        overview = self.overview
        if overview is None:
            return
        rows = [
            r for r in overview.rows if r.pilot_state == "selected" and not r.waiting_for_agreement
        ]
        if not rows:
            self.notify("No selected pilot with a signed agreement to apply.", severity="warning")
            return
        busy = [r.pilot_id for r in rows if r.pilot_id in self.busy]
        if busy:
            self.notify(
                f"Wait for the running operations on {', '.join(busy)}.", severity="warning"
            )
            return
        self.app.push_screen(
            ConfirmScreen(
                f"Apply all {len(rows)} selected pilots?",
                confirm_apply_all_text(rows, overview.waiting),
                yes="Apply all",
            ),
            lambda yes: (
                self._start_apply(tuple(r.pilot_id for r in rows), every=True) if yes else None
            ),
        )

    def _start_apply(self, pilot_ids: tuple[str, ...], every: bool = False) -> None:
        for pid in pilot_ids:
            self.busy[pid] = "applying"
            self.progress.pop(pid, None)
            self.plans.pop(pid, None)
            self.refresh_row(pid)
        self.update_status()
        self._provision(() if every else pilot_ids, pilot_ids)

    @work(thread=True, group="apply")
    def _provision(self, requested: tuple[str, ...], shown: tuple[str, ...]) -> None:
        outcomes = None

        def progress(pilot: str, step: str, index: int, total: int) -> None:
            # Called from the provisioner's own threads: only post, never touch widgets.
            self.post_message(self.StepDone(pilot, step, index, total))

        with reported(self, "Apply"):
            outcomes = self.services.provision(requested, progress=progress)
        self.post_message(self.Applied(shown, outcomes))

    def on_tenants_screen_step_done(self, message: StepDone) -> None:
        pid = message.pilot_id
        self.busy.setdefault(pid, "applying")
        self.progress[pid] = (message.index, message.total, message.step)
        self.refresh_row(pid)
        self.update_status()
        if pid == self.highlighted_id():
            self._load_detail(pid)  # the ledger has a new row

    def on_tenants_screen_applied(self, message: Applied) -> None:
        done = set(message.pilot_ids) | {o.pilot_id for o in message.outcomes or []}
        for pid in done:
            self.busy.pop(pid, None)
            self.progress.pop(pid, None)
        for outcome in message.outcomes or []:
            applied = len(outcome.report.done) if outcome.report else 0
            if outcome.state == "active":
                self.notify(
                    f"{outcome.pilot_id}: tenant active ({applied} change(s) applied in "
                    f"{outcome.seconds:.1f} s). Environment: {outcome.environment}",
                    title="Applied",
                    markup=False,
                )
            else:
                report = outcome.report
                where = f" at step “{report.failed}”" if report and report.failed else ""
                self.notify(
                    f"{outcome.pilot_id}: {outcome.state}{where}: "
                    f"{(report.error if report else None) or 'see the step ledger (s)'}",
                    title="Apply failed",
                    severity="error",
                    timeout=15,
                    markup=False,
                )
        self.update_status()
        self.changed()

    def action_teardown(self) -> None:
        row = self.highlighted_row()
        if row is None or self._refuse_busy(row.pilot_id):
            return
        if row.tenant_state in (None, "torn_down"):
            self.notify(f"{row.pilot_id} has no tenant to tear down.", severity="warning")
            return
        pid = row.pilot_id
        self.app.push_screen(
            ConfirmScreen(
                f"Tear down the tenant of {pid}?",
                confirm_teardown_text(row),
                yes="Tear down",
                danger=True,
            ),
            lambda yes: self._start_teardown(pid) if yes else None,
        )

    def _start_teardown(self, pilot_id: str) -> None:
        self.busy[pilot_id] = "tearing down"
        self.plans.pop(pilot_id, None)
        self.refresh_row(pilot_id)
        self.update_status()
        self._teardown(pilot_id)

    @work(thread=True, group="teardown")
    def _teardown(self, pilot_id: str) -> None:
        outcome = None
        with reported(self, f"Teardown of {pilot_id}"):
            outcome = self.services.teardown(pilot_id)
        self.post_message(self.TornDown(pilot_id, outcome))

    def on_tenants_screen_torn_down(self, message: TornDown) -> None:
        pid = message.pilot_id
        self.busy.pop(pid, None)
        self.progress.pop(pid, None)
        outcome = message.outcome
        if outcome is not None:
            data = outcome.as_dict()
            if data["clean"]:
                self.notify(
                    f"{pid}: removed {len(data['removed'])} resource(s); nothing is left.",
                    title="Torn down",
                )
            else:
                problem = data["error"] or "left over: " + ", ".join(data["leftovers"])
                self.notify(
                    f"{pid}: NOT clean — {problem}",
                    title="Teardown incomplete",
                    severity="error",
                    timeout=15,
                    markup=False,
                )
        self.update_status()
        self.changed()

    def action_verify(self) -> None:
        if self.verifying:
            self.notify("The isolation check is still running.", severity="warning")
            return
        self.verifying = True
        self.action_tab("tab-isolation")
        self.query_one(ProbeTable).probing()
        self.update_status()
        self._verify()

    @work(thread=True, exclusive=True, group="verify")
    def _verify(self) -> None:
        probes = None
        with reported(self, "Isolation check"):
            probes = self.services.verify()
        self.post_message(self.Verified(probes))

    def on_tenants_screen_verified(self, message: Verified) -> None:
        self.verifying = False
        self.update_status()
        table = self.query_one(ProbeTable)
        if message.probes is None:
            table.failed()
            return
        self.probes = message.probes
        self.verified_at = datetime.now().strftime("%H:%M:%S")
        leaks = table.show(message.probes, self.verified_at)
        if not message.probes:
            self.notify("No active tenant to verify.", severity="warning")
            return
        if leaks:
            self.notify(
                "\n".join(f"{p.from_pilot} → {p.target}: {p.what} ({p.detail})" for p in leaks[:8]),
                title=f"Isolation: {len(leaks)} leak(s)",
                severity="error",
                timeout=20,
                markup=False,
            )
        else:
            self.notify(f"{len(message.probes)} probes, no leaks.", title="Isolation verified")
