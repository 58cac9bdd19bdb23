"""Selection: solve, explain, lock, re-solve, ask why-not, and commit the pilots.

The optimizer (with its explanations) runs in a thread worker and posts a
typed message; the screen stays usable while it solves.  Three tabs: the
proposed portfolio with each project's explanation and the capacity bars, all
candidates with their lock state, and the heterogeneity coverage matrix.
Locks change the *request*: the status line says the proposal is stale until
it is re-solved, and only a fresh proposal can be committed.

One piece (over 400 lines) because the three tabs, the locks and the status
line share one state, the proposal and the locks it was solved with; the
rendering already lives in widgets (capacity bars, explanation, coverage
matrix), and what remains is that shared state and the keys that change it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.screens.commit import CommitRequest, CommitScreen
from tui.screens.why_not import WhyNotScreen
from tui.widgets.capacity_bars import CapacityBars
from tui.widgets.coverage_matrix import CoverageMatrix
from tui.widgets.explanation import render_explanation

if TYPE_CHECKING:
    from ngc_pilot.facade import DecisionView, ProposalView
    from ngc_pilot.selection import SelectOptions
from tui.widgets.table import OpsTable, cursor_key


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class SelectionScreen(OpsScreen):
    MODE = "selection"
    TITLE = "Selection"
    AUTO_FOCUS = "#sel-portfolio"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "solve", "Solve", tooltip="Run the optimizer with the current locks (r)"),
        Binding("l", "lock_in", "Lock in", tooltip="Always select the highlighted project (l)"),
        Binding("x", "lock_out", "Lock out", tooltip="Never select the highlighted project (x)"),
        Binding("u", "unlock", "Unlock", tooltip="Remove the highlighted project's lock (u)"),
        Binding("U", "unlock_all", "Unlock all", show=False, tooltip="Remove every lock (U)"),
        Binding("w", "why_not", "Why not?", tooltip="Why is the highlighted project out? (w)"),
        Binding("c", "commit", "Commit", tooltip="Record the proposal as the decision (c)"),
        Binding("p", "tab('tab-portfolio')", "Portfolio", show=False),
        Binding("n", "tab('tab-candidates')", "Candidates", show=False),
        Binding("v", "tab('tab-coverage')", "Coverage", show=False),
    ]

    class Solved(Message):
        """The optimizer finished: the proposal, or None when it failed."""

        def __init__(self, view: ProposalView | None) -> None:
            super().__init__()
            self.view = view

    class WhyNotReady(Message):
        def __init__(self, answer: dict[str, Any]) -> None:
            super().__init__()
            self.answer = answer

    class Committed(Message):
        def __init__(self, decision: DecisionView) -> None:
            super().__init__()
            self.decision = decision

    class DecisionLoaded(Message):
        def __init__(self, decision: DecisionView | None) -> None:
            super().__init__()
            self.decision = decision

    def __init__(self) -> None:
        super().__init__()
        self.lock_in: set[str] = set()
        self.lock_out: set[str] = set()
        self.view: ProposalView | None = None
        self.decision: DecisionView | None = None
        self.solving = False

    def compose_body(self) -> ComposeResult:
        yield Static("Solving…", id="sel-status")
        with TabbedContent(id="sel-tabs", initial="tab-portfolio"):
            with TabPane("Portfolio (p)", id="tab-portfolio"):
                with Vertical():
                    yield OpsTable(id="sel-portfolio", cursor_type="row", zebra_stripes=True)
                    with Horizontal(id="sel-side"):
                        yield CapacityBars("", id="sel-capacity")
                        with VerticalScroll(id="sel-explain-scroll"):
                            yield Static("", id="sel-explain")
            with TabPane("Candidates (n)", id="tab-candidates"):
                yield OpsTable(id="sel-candidates", cursor_type="row", zebra_stripes=True)
            with TabPane("Coverage (v)", id="tab-coverage"):
                yield CoverageMatrix(id="sel-coverage")

    def on_mount(self) -> None:
        portfolio = self.query_one("#sel-portfolio", DataTable)
        portfolio.border_title = "Proposed portfolio"
        for header in (
            "id",
            "name",
            "institution",
            "score",
            "coverage",
            "share",
            "only it covers",
            "loss",
            "best swap",
            "start",
            "end",
        ):
            portfolio.add_column(header)
        candidates = self.query_one("#sel-candidates", DataTable)
        for header in ("id", "name", "institution", "eligible", "score", "status"):
            candidates.add_column(header)
        self.query_one("#sel-capacity").border_title = "Capacity used"
        self.query_one("#sel-explain-scroll").border_title = "Why it is in"

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        self._load_decision()
        self.action_solve()

    @work(thread=True, exclusive=True, group="decision")
    def _load_decision(self) -> None:
        with reported(self, "Loading the last decision"):
            self.post_message(self.DecisionLoaded(self.services.latest_decision()))

    def on_selection_screen_decision_loaded(self, message: DecisionLoaded) -> None:
        self.decision = message.decision
        self.update_status()

    @property
    def options(self) -> SelectOptions:
        from ngc_pilot.selection import SelectOptions  # imported by the services by now

        return SelectOptions(
            lock_in=tuple(sorted(self.lock_in)), lock_out=tuple(sorted(self.lock_out))
        )

    @property
    def stale(self) -> bool:
        return self.view is None or self.view.options != self.options

    def action_solve(self) -> None:
        self.solving = True
        self.update_status()
        self._solve(self.options)

    @work(thread=True, exclusive=True, group="solve")
    def _solve(self, options: SelectOptions) -> None:
        view = None
        with reported(self, "Solving"):
            view = self.services.propose(options)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Solved(view))

    def on_selection_screen_solved(self, message: Solved) -> None:
        self.solving = False
        if message.view is None:  # failed; the app shows why
            self.update_status()
            return
        self.view = message.view
        self.fill()

    # ---------------------------------------------------------------- display

    def fill(self) -> None:
        view = self.view
        if view is None:
            return
        data = view.data
        portfolio = self.query_one("#sel-portfolio", DataTable)
        keep = self._cursor_id(portfolio)
        portfolio.clear()
        explanations = data["explanations"]
        for s in data["selected"]:
            e = explanations.get(s["id"], {})
            swap = (
                "—" if not e.get("best_swap") else f"{e['best_swap']} {e['best_swap_delta']:+.1f}"
            )
            loss = e.get("replan_loss")
            unique = ", ".join(v.split("=", 1)[1] for v in e.get("unique_values", []))
            mark = " 🔒" if s["id"] in self.lock_in else ""
            portfolio.add_row(
                s["id"] + mark,
                _short(s["name"], 22),
                _short(s["institution"], 16),
                Text(f"{s['score']:.1f}", justify="right"),
                Text(f"{e.get('coverage_points', 0):.1f}", justify="right"),
                Text(f"{100 * e.get('share_of_score', 0):.1f}%", justify="right"),
                _short(unique, 20) or "—",
                Text("—" if loss is None else f"{loss:.2f}", justify="right"),
                swap,
                s["planned_start"],
                s["planned_end"],
                key=s["id"],
            )
        self._restore(portfolio, keep)
        self.query_one(CapacityBars).show(data["capacity_used"], data["capacity"])
        self.fill_candidates()
        gaps = self.query_one(CoverageMatrix).show(view.coverage, view.proposal.result.selected)
        self.query_one("#sel-tabs", TabbedContent).get_tab(
            "tab-coverage"
        ).label = f"Coverage (v) · {gaps} gap{'s' if gaps != 1 else ''}"
        self.show_explanation()
        self.update_status()

    def fill_candidates(self) -> None:
        table = self.query_one("#sel-candidates", OpsTable)
        keep = self._cursor_id(table)
        table.clear()
        if self.view is None:
            return
        selected = set(self.view.proposal.result.selected)
        assessed = sorted(
            self.view.proposal.assessed.values(),
            key=lambda a: (not a.eligibility.eligible, -a.score.total, a.id),
        )
        rows = [
            (
                a.id,
                [
                    a.id,
                    _short(a.nomination.name, 40),
                    _short(a.nomination.institution, 28),
                    Text("yes", style="green")
                    if a.eligibility.eligible
                    else Text("no", style="red"),
                    Text(f"{a.score.total:.1f}", justify="right"),
                    self._status(a.id, a.id in selected),
                ],
            )
            for a in assessed
        ]
        table.fit_columns(cells for _, cells in rows)
        for key, cells in rows:
            table.add_row(*cells, key=key)
        self._restore(table, keep)
        table.border_title = (
            f"{len(assessed)} applications · locked in: {len(self.lock_in)} · "
            f"locked out: {len(self.lock_out)}"
        )

    def _status(self, pid: str, selected: bool) -> Text:
        parts = []
        if selected:
            parts.append(("selected", "bold cyan"))
        if pid in self.lock_in:
            parts.append(("locked in", "bold green"))
        if pid in self.lock_out:
            parts.append(("locked out", "bold yellow"))
        if not parts:
            return Text("—", style="dim")
        text = Text()
        for i, (label, style) in enumerate(parts):
            text.append((" · " if i else "") + label, style=style)
        return text

    def update_status(self) -> None:
        status = Text()
        view = self.view
        if view is None:
            status.append("No proposal yet. " if not self.solving else "")
        else:
            d = view.data
            if d["status"] == "infeasible" or not view.proposal.result.feasible:
                status.append("No feasible selection: ", style="bold red")
                status.append("; ".join(d["infeasibility"]), style="red")
            else:
                status.append(f"Proposal: {len(d['selected'])} of {d['candidates']} eligible ")
                status.append(f"({d['k_min']}..{d['k_max']}) · objective {d['objective']:.2f} · ")
                if d["optimal"]:
                    status.append("certified optimal (gap 0)", style="bold green")
                else:
                    status.append(
                        f"NOT proven optimal: {d['status']}, gap {d['gap']}", style="bold yellow"
                    )
        if self.solving:
            status.append("  ⏳ solving…", style="bold yellow")
        elif self.stale and view is not None:
            status.append("  ● locks changed: press r to re-solve", style="bold yellow")
        status.append("\nLocks: in ")
        status.append(", ".join(sorted(self.lock_in)) or "—", style="green")
        status.append(" · out ")
        status.append(", ".join(sorted(self.lock_out)) or "—", style="yellow")
        status.append(" · Last decision: ")
        if self.decision is None:
            status.append("none yet", style="dim")
        else:
            d2 = self.decision
            status.append(f"#{d2.id} by {d2.decided_by} ({len(d2.selected)} pilots)")
        self.query_one("#sel-status", Static).update(status)

    def show_explanation(self) -> None:
        target = self.query_one("#sel-explain", Static)
        pid = self._cursor_id(self.query_one("#sel-portfolio", DataTable))
        if self.view is None or pid is None:
            target.update("")
            return
        row = next((s for s in self.view.data["selected"] if s["id"] == pid), None)
        target.update(
            render_explanation(
                pid, row["name"] if row else "", self.view.data["explanations"].get(pid)
            )
        )

    @on(DataTable.RowHighlighted, "#sel-portfolio")
    def _portfolio_highlighted(self) -> None:
        self.show_explanation()

    # -------------------------------------------------------------- the cursor

    @staticmethod
    def _cursor_id(table: DataTable[Any]) -> str | None:
        return cursor_key(table)

    @staticmethod
    def _restore(table: DataTable[Any], pid: str | None) -> None:
        if pid is None:
            return
        try:
            table.move_cursor(row=table.get_row_index(pid))
        except Exception:
            pass

    def highlighted(self) -> str | None:
        """The project under the cursor of the visible project table."""
        active = self.query_one("#sel-tabs", TabbedContent).active
        table_id = {"tab-portfolio": "#sel-portfolio", "tab-candidates": "#sel-candidates"}.get(
            active
        )
        if table_id is None:
            self.notify(
                "Pick a project on the Portfolio (p) or Candidates (n) tab.", severity="warning"
            )
            return None
        pid = self._cursor_id(self.query_one(table_id, DataTable))
        if pid is None:
            self.notify("No project highlighted.", severity="warning")
        return pid

    # ---------------------------------------------------------------- actions

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#sel-tabs", TabbedContent)
        tabs.active = tab
        target = {"tab-portfolio": "#sel-portfolio", "tab-candidates": "#sel-candidates"}.get(
            tab, "#sel-coverage"
        )
        self.query_one(target).focus()

    def _locks_changed(self) -> None:
        self.fill_candidates()
        self.update_status()

    def action_lock_in(self) -> None:
        pid = self.highlighted()
        if pid is None:
            return
        if self.view is not None:
            a = self.view.proposal.assessed.get(pid)
            if a is not None and not a.eligibility.eligible:
                self.notify(
                    f"{pid} is ineligible and cannot be locked in: "
                    + "; ".join(a.eligibility.reasons),
                    severity="warning",
                    markup=False,
                )
                return
        self.lock_out.discard(pid)
        self.lock_in.add(pid)
        self._locks_changed()

    def action_lock_out(self) -> None:
        pid = self.highlighted()
        if pid is None:
            return
        self.lock_in.discard(pid)
        self.lock_out.add(pid)
        self._locks_changed()

    def action_unlock(self) -> None:
        pid = self.highlighted()
        if pid is None:
            return
        self.lock_in.discard(pid)
        self.lock_out.discard(pid)
        self._locks_changed()

    def action_unlock_all(self) -> None:
        self.lock_in.clear()
        self.lock_out.clear()
        self._locks_changed()

    def action_why_not(self) -> None:
        pid = self.highlighted()
        if pid is None:
            return
        self.notify(f"Asking the optimizer why not {pid}…", timeout=3)
        self._why_not(pid, self.options)

    @work(thread=True, exclusive=True, group="why-not")
    def _why_not(self, pid: str, options: SelectOptions) -> None:
        with reported(self, f"Why not {pid}"):
            options = replace(options, explain=False)
            self.post_message(self.WhyNotReady(self.services.why_not(pid, options)))

    def on_selection_screen_why_not_ready(self, message: WhyNotReady) -> None:
        self.app.push_screen(WhyNotScreen(message.answer))

    def action_commit(self) -> None:
        view = self.view
        if self.solving:
            self.notify("Wait for the optimizer to finish.", severity="warning")
            return
        if view is None or not view.proposal.result.feasible:
            self.notify("There is no feasible proposal to commit.", severity="warning")
            return
        if self.stale:
            self.notify(
                "The locks changed since the last solve: press r first.", severity="warning"
            )
            return
        self.app.push_screen(CommitScreen(view), self._commit_answered)

    def _commit_answered(self, request: CommitRequest | None) -> None:
        if request is None or self.view is None:
            return
        self._commit(self.view, request)

    @work(thread=True, exclusive=True, group="commit")
    def _commit(self, view: ProposalView, request: CommitRequest) -> None:
        with reported(self, "Commit"):
            decision = self.services.commit(view, by=request.by, reason=request.reason)
            self.post_message(self.Committed(decision))

    def on_selection_screen_committed(self, message: Committed) -> None:
        d = message.decision
        self.notify(
            f"Decision #{d.id} by {d.decided_by}: {len(d.selected)} pilots recorded.",
            title="Committed",
            markup=False,
        )
        self.decision = d
        self.ops.data_version += 1
        self._loaded_version = self.ops.data_version
        self.update_status()
