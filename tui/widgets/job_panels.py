"""How scheduler jobs and their runs are drawn: status, times, durations, errors.

Pure functions from the service layer's job views to table cells and Rich
text.  Times are UTC (as stored and as ``ngc-pilot jobs`` prints them) with
the distance from when the screen read them ("in 30 min", "2 h ago"), so an
operator sees a stale job without doing arithmetic.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from ngc_pilot.facade import JobRow, RunView

STATUS_STYLES = {
    "succeeded": "bold green",
    "failed": "bold red",
    "running": "bold yellow",
    "skipped": "dim",
}

JOB_COLUMNS = (
    ("job", "job", 12),
    ("schedule", "schedule", 16),
    ("last", "last run (UTC)", 24),
    ("status", "status", 17),
    ("took", "took", 7),
    ("next", "next run (UTC)", 25),
    ("success", "last success", 15),
    ("error", "last error", 21),
)
RUN_COLUMNS = (
    ("started", "started (UTC)", 19),
    ("fire", "fire time", 9),
    ("status", "status", 9),
    ("attempt", "try", 3),
    ("took", "took", 7),
    ("note", "error / result", 42),
)


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "—"


def short_when(moment: datetime) -> str:
    return f"{moment:%m-%d %H:%M}"


def distance(moment: datetime, now: datetime) -> str:
    """'in 30 min' / '1.5 h ago' / 'in 16 h' / 'now' from ``now`` to ``moment``."""
    seconds = int((moment - now).total_seconds())
    ahead, seconds = seconds > 0, abs(seconds)
    if seconds < 60:
        return "now" if seconds < 5 else (f"in {seconds} s" if ahead else f"{seconds} s ago")
    if seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 10 * 3600:
        amount = f"{seconds / 3600:.1f} h"
    elif seconds < 2 * 86400:
        amount = f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86400} d"
    return f"in {amount}" if ahead else f"{amount} ago"


def took(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def status_text(run: RunView | None) -> Text:
    if run is None:
        return Text("never run", style="dim")
    text = Text(run.status, style=STATUS_STYLES.get(run.status, ""))
    if run.attempt > 1:
        text.append(f" (try {run.attempt})", style="yellow")
    return text


def job_status_text(row: JobRow) -> Text:
    text = status_text(row.last_run)
    if row.failures_since_success and row.last_run and row.last_run.status == "failed":
        text = Text(f"failed ×{row.failures_since_success}", style="bold red")
    return text


def job_cells(row: JobRow, now: datetime) -> list[Any]:
    last = row.last_run
    if row.scheduled:
        nxt = next_text(row, now)
    else:
        nxt = Text("not scheduled (serve)", style="yellow")
    if row.last_success is None:
        success = Text("never" if last else "—", style="red" if last else "dim")
    else:
        success = Text(distance(row.last_success.started_at, now))
    return [
        Text(row.job_id, style="bold" if not row.healthy else ""),
        row.schedule or "—",
        Text(f"{short_when(last.started_at)} ({distance(last.started_at, now)})")
        if last
        else Text("never", style="dim"),
        job_status_text(row),
        Text(took(last.duration_seconds) if last else "", justify="right"),
        nxt,
        success,
        Text(last.error or "", style="red") if last and last.error else "",
    ]


def _next_in(next_run: datetime, now: datetime) -> str:
    """'in 30 min', or 'late 45 min' for a fire time in the past (no serve is running it)."""
    if next_run < now:
        return "late " + distance(next_run, now).removesuffix(" ago")
    return distance(next_run, now)


def next_text(row: JobRow, now: datetime) -> Text:
    """The next fire time with how far off it is; an overdue one in yellow."""
    if row.next_run is None:
        return Text("paused", style="yellow")
    return Text(
        f"{short_when(row.next_run)} ({_next_in(row.next_run, now)})",
        style="yellow" if row.next_run < now else "",
    )


def run_note(run: RunView) -> Text:
    """A failure's error, a skip's reason, or a success's report in one line."""
    summary = run.summary
    if run.status == "failed":
        text = Text()
        if "retry_in_seconds" in summary:
            text.append(f"retry in {summary['retry_in_seconds']:g} s · ", style="yellow")
        elif "gave_up_after_attempts" in summary:
            text.append(f"gave up after try {summary['gave_up_after_attempts']} · ", style="bold")
        text.append(run.error or "failed", style="red")
        return text
    if run.status == "skipped":
        return Text(f"skipped: {summary.get('reason', '')}", style="dim")
    if run.status == "running":
        return Text("running…", style="yellow")
    parts = [
        f"{k}={v}"
        for k, v in summary.items()
        if isinstance(v, int | float | str | bool) and not isinstance(v, bool)
    ]
    return Text(" ".join(parts), style="dim")


def run_cells(run: RunView) -> list[Any]:
    return [
        f"{run.started_at:%Y-%m-%d %H:%M:%S}",
        f"{run.scheduled_for:%H:%M}" if run.scheduled_for else "—",
        Text(run.status, style=STATUS_STYLES.get(run.status, "")),
        Text(str(run.attempt), justify="right"),
        Text(took(run.duration_seconds), justify="right"),
        run_note(run),
    ]


def job_detail(row: JobRow | None, run: RunView | None, now: datetime) -> RenderableType:
    """The job's description and health, then the highlighted run in full."""
    if row is None:
        return Text("No job highlighted.", style="dim")
    head = Text()
    head.append(row.job_id, style="bold")
    head.append(f"  {row.schedule}\n", style="dim")
    head.append(row.description or "(no description: not in this registry)")
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    if not row.scheduled:
        next_run = "not in the job store: `ngc-pilot serve` schedules it"
    elif row.next_run is None:
        next_run = "paused"
    else:
        next_run = f"{when(row.next_run)} UTC ({_next_in(row.next_run, now)})"
    facts.add_row("next run", next_run)
    facts.add_row(
        "last success",
        f"{when(row.last_success.started_at)} UTC" if row.last_success else "never",
    )
    if row.failures_since_success:
        facts.add_row(
            "failing",
            Text(f"{row.failures_since_success} failed attempt(s) since", style="bold red"),
        )
    parts: list[RenderableType] = [head, Text(""), facts]
    if run is not None:
        detail = Table.grid(padding=(0, 1))
        detail.add_column(style="dim", no_wrap=True)
        detail.add_column()
        detail.add_row("run", f"#{run.id} {status_text(run).plain}")
        detail.add_row("fire time", f"{when(run.scheduled_for)} UTC")
        detail.add_row("started", f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC")
        detail.add_row(
            "finished",
            f"{run.finished_at:%Y-%m-%d %H:%M:%S} UTC ({took(run.duration_seconds)})"
            if run.finished_at
            else "not yet",
        )
        detail.add_row("worker", run.worker)
        if run.error:
            detail.add_row("error", Text(run.error, style="red"))
        parts += [Text(""), Text("Highlighted run", style="bold"), detail]
        if run.summary:
            parts.append(Text(json.dumps(run.summary, indent=2, ensure_ascii=False, default=str)))
    return Group(*parts)
