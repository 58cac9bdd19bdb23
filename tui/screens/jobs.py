"""Jobs: the scheduler service's jobs — schedule, last run and result, next run, failures.

The table lists every job of the registry (and any other job the job store
holds) as ``ngc-pilot jobs`` does (``ngc_pilot.jobs.job_status``): its last
run with status, attempt and duration, its next fire time from the job store,
its last success and error.  Below it, the highlighted job's recent runs
(``job_run``, newest first: every attempt, so retries and failures are seen,
and fire times skipped because another ``serve`` ran them) and, beside them,
the job's description and the highlighted run in full (error, report).

``r`` (or ctrl+r) reads it all again.  ``x`` runs the highlighted job now,
after asking, exactly like ``ngc-pilot jobs run`` (recorded as a run and
audited; no retries — the next scheduled run retries).  Jobs that read the
cloud (meter, capacity, reconcile, expiry, data access) need it reachable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.errors import reported
from tui.screens.base import OpsScreen
from tui.screens.confirm import ConfirmScreen
from tui.widgets.job_panels import JOB_COLUMNS, RUN_COLUMNS, job_cells, job_detail, run_cells
from tui.widgets.table import OpsTable, cursor_key

if TYPE_CHECKING:
    from ngc_pilot.facade import JobRow, JobsOverview, RunOutcome, RunView


class JobsScreen(OpsScreen):
    MODE = "jobs"
    TITLE = "Jobs"
    AUTO_FOCUS = "#jobs-table"
    HELP = (
        "\nThe jobs of `ngc-pilot serve` (the scheduler service): each with its schedule, last "
        "run and result, and next run. A job that fails is retried with backoff; every attempt "
        "is a row in the runs below (try 2, 3, …), and a fire time another serve process ran is "
        "listed as skipped. 'not scheduled' means serve has not run with this job yet. "
        "Run now (x) asks first and is recorded and audited like `ngc-pilot jobs run`."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", tooltip="Read the jobs and their runs again (r)"),
        Binding("x", "run_now", "Run now", tooltip="Run the highlighted job now (asks first) (x)"),
    ]

    class Loaded(Message):
        def __init__(self, overview: JobsOverview) -> None:
            super().__init__()
            self.overview = overview

    class RunsLoaded(Message):
        def __init__(self, job_id: str, runs: tuple[RunView, ...]) -> None:
            super().__init__()
            self.job_id = job_id
            self.runs = runs

    class Ran(Message):
        def __init__(self, job_id: str, outcome: RunOutcome | None) -> None:
            super().__init__()
            self.job_id = job_id
            self.outcome = outcome

    def __init__(self) -> None:
        super().__init__()
        self.overview: JobsOverview | None = None
        self.rows: dict[str, JobRow] = {}
        self.runs: dict[str, RunView] = {}
        self.runs_of: str | None = None
        self.running: set[str] = set()

    def compose_body(self) -> ComposeResult:
        yield Static("Loading jobs…", id="jobs-status")
        table: DataTable[Any] = OpsTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        table.loading = True
        yield table
        with Horizontal(id="jobs-bottom"):
            yield OpsTable(id="jobs-runs", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="jobs-detail-scroll"):
                yield Static("", id="jobs-detail")

    def on_mount(self) -> None:
        table = self.query_one("#jobs-table", DataTable)
        for key, header, width in JOB_COLUMNS:
            table.add_column(header, key=key, width=width)
        runs = self.query_one("#jobs-runs", DataTable)
        for key, header, width in RUN_COLUMNS:
            runs.add_column(header, key=key, width=width)
        runs.border_title = "Recent runs"
        self.query_one("#jobs-detail-scroll").border_title = "Job and run"

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        self._load()

    def action_refresh(self) -> None:
        self.action_reload()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        with reported(self, "Loading jobs"):
            self.post_message(self.Loaded(self.services.jobs()))

    def on_jobs_screen_loaded(self, message: Loaded) -> None:
        overview = message.overview
        self.overview = overview
        self.rows = {r.job_id: r for r in overview.rows}
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        for row in overview.rows:
            table.add_row(*job_cells(row, overview.at), key=row.job_id)
        table.loading = False
        self.focus_default()
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep))
        table.border_title = (
            f"{len(overview.rows)} jobs · read {overview.at:%H:%M:%S} UTC (r: refresh)"
        )
        self.update_status()
        self.runs_of = None  # the runs may have moved on too
        self.show_highlighted()

    def update_status(self) -> None:
        overview = self.overview
        status = Text()
        if overview is None:
            status.append("Loading jobs…", style="dim")
            self.query_one("#jobs-status", Static).update(status)
            return
        rows = overview.rows
        failing = [r for r in rows if not r.healthy]
        scheduled = [r for r in rows if r.scheduled]
        status.append(f"{len(rows)} jobs · {len(scheduled)} scheduled · ")
        if failing:
            status.append(
                f"{len(failing)} failing: "
                + ", ".join(f"{r.job_id} (×{r.failures_since_success})" for r in failing),
                style="bold red",
            )
        else:
            status.append("none failing", style="green")
        never = [r.job_id for r in rows if r.last_run is None]
        if never:
            status.append(f" · never run: {', '.join(never)}", style="dim")
        if self.running:
            status.append(f"   ⏳ running {', '.join(sorted(self.running))}", style="bold yellow")
        status.append("\n")
        if not scheduled:
            status.append(
                "The service has not run yet: `ngc-pilot serve` schedules these jobs (next runs "
                "appear then); `ngc-pilot jobs run JOB` or x here runs one once.",
                style="yellow",
            )
        else:
            status.append(
                "Next runs from the job store of `ngc-pilot serve`; every attempt is recorded "
                "(retries with backoff).",
                style="dim",
            )
        self.query_one("#jobs-status", Static).update(status)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#jobs-table", DataTable)

    def highlighted_id(self) -> str | None:
        return cursor_key(self.table)

    @on(DataTable.RowHighlighted, "#jobs-table")
    def _highlighted(self) -> None:
        self.show_highlighted()

    def show_highlighted(self) -> None:
        job_id = self.highlighted_id()
        if job_id is None:
            self._fill_runs(None, ())
            return
        if job_id != self.runs_of:
            self._load_runs(job_id)
        self.show_detail()

    @work(thread=True, exclusive=True, group="runs")
    def _load_runs(self, job_id: str) -> None:
        with reported(self, f"Loading the runs of {job_id}"):
            self.post_message(self.RunsLoaded(job_id, self.services.job_runs(job_id)))

    def on_jobs_screen_runs_loaded(self, message: RunsLoaded) -> None:
        if message.job_id != self.highlighted_id():
            return  # the cursor moved on meanwhile
        self._fill_runs(message.job_id, message.runs)

    def _fill_runs(self, job_id: str | None, runs: tuple[RunView, ...]) -> None:
        table = self.query_one("#jobs-runs", DataTable)
        table.clear()
        self.runs_of = job_id
        self.runs = {str(r.id): r for r in runs}
        for run in runs:
            table.add_row(*run_cells(run), key=str(run.id))
        if job_id is None:
            table.border_title = "Recent runs"
        elif not runs:
            table.border_title = f"{job_id}: no runs recorded yet"
        else:
            failed = sum(r.status == "failed" for r in runs)
            retries = sum(r.attempt > 1 for r in runs)
            table.border_title = (
                f"{job_id}: last {len(runs)} runs, newest first · {failed} failed · "
                f"{retries} retries"
            )
        self.show_detail()

    @on(DataTable.RowHighlighted, "#jobs-runs")
    def _run_highlighted(self) -> None:
        self.show_detail()

    def highlighted_run(self) -> RunView | None:
        key = cursor_key(self.query_one("#jobs-runs", DataTable))
        return self.runs.get(key) if key is not None else None

    def show_detail(self) -> None:
        overview = self.overview
        job_id = self.highlighted_id()
        row = self.rows.get(job_id) if job_id else None
        run = self.highlighted_run() if job_id == self.runs_of else None
        if overview is None:
            return
        self.query_one("#jobs-detail", Static).update(job_detail(row, run, overview.at))

    # ---------------------------------------------------------------- run now

    def action_run_now(self) -> None:
        job_id = self.highlighted_id()
        row = self.rows.get(job_id) if job_id else None
        if row is None:
            self.notify("No job highlighted.", severity="warning")
            return
        if row.job_id in self.running:
            self.notify(f"{row.job_id} is already running from here.", severity="warning")
            return
        body = Text()
        body.append(f"{row.job_id}: {row.description or 'no description'}\n\n")
        body.append(
            "It runs once now in this process, like `ngc-pilot jobs run "
            f"{row.job_id}`: recorded as a run, audited, no retries. If `ngc-pilot serve` is "
            "running it right now, this run is skipped (the job lock). Jobs that read the "
            "cloud need it reachable.",
            style="dim",
        )
        self.app.push_screen(
            ConfirmScreen(f"Run {row.job_id} now?", body, yes="Run now"),
            lambda yes: self._start_run(row.job_id) if yes else None,
        )

    def _start_run(self, job_id: str) -> None:
        self.running.add(job_id)
        self.update_status()
        self._run(job_id)

    @work(thread=True, group="run-now")
    def _run(self, job_id: str) -> None:
        outcome = None
        with reported(self, f"Running {job_id}"):
            outcome = self.services.run_job(job_id)
        self.post_message(self.Ran(job_id, outcome))

    def on_jobs_screen_ran(self, message: Ran) -> None:
        self.running.discard(message.job_id)
        outcome = message.outcome
        if outcome is not None:
            if outcome.status == "succeeded":
                self.notify(f"{outcome.job_id}: succeeded.", title="Job run")
            elif outcome.status == "skipped":
                self.notify(
                    f"{outcome.job_id}: skipped ({outcome.summary.get('reason', 'running elsewhere')}).",
                    title="Job run",
                    severity="warning",
                    markup=False,
                )
            else:
                self.notify(
                    f"{outcome.job_id}: failed: {outcome.error or 'see its runs'}",
                    title="Job run failed",
                    severity="error",
                    timeout=15,
                    markup=False,
                )
        self.update_status()
        self.changed()
