"""The scheduler's jobs for every interface: schedules, recent runs, a run by hand.

The service layer does not import the scheduler: the jobs themselves come
through a :class:`JobsPort` that the interface hands in (the TUI and the CLI
use :class:`scheduler.manual.SchedulerJobs`).  Here the port's answers meet
the job history in the database, and a run by hand is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from ngc_pilot import audit, job_history
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.jobs import JobInfo, job_status
from ngc_pilot.models import JobRun
from ngc_pilot.provisioning import Provisioner


@dataclass(frozen=True)
class RunView:
    """One ``job_run`` row: an attempt (or a skipped fire time) of a job."""

    id: int
    job_id: str
    status: str  # running | succeeded | failed | skipped
    attempt: int
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None
    summary: dict[str, Any]
    worker: str


@dataclass(frozen=True)
class JobRow:
    """One scheduler job with its last run, last success and failures since."""

    job_id: str
    schedule: str
    description: str
    scheduled: bool  # in the job store: ``serve`` has run with it
    next_run: datetime | None
    last_run: RunView | None
    last_success: RunView | None
    failures_since_success: int

    @property
    def healthy(self) -> bool:
        return self.last_run is None or self.last_run.status in ("succeeded", "running")


@dataclass(frozen=True)
class JobsOverview:
    rows: tuple[JobRow, ...]
    at: datetime  # when it was read (UTC): "next run in …" counts from here


@dataclass(frozen=True)
class RunOutcome:
    job_id: str
    status: str  # succeeded | failed | skipped
    attempts: int
    error: str | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class ManualRun:
    """How a job run by hand ended, as the port reports it."""

    status: str  # succeeded | failed | skipped
    attempts: int
    error: str | None
    summary: dict[str, Any]


class JobsPort(Protocol):
    """The scheduler as the facade needs it: which jobs exist, and running one now."""

    def catalogue(self) -> Mapping[str, JobInfo]:
        """Every job by id: its schedule and what it does, in words."""
        ...

    def run_now(
        self, engine: Engine, provisioner: Callable[[], Provisioner], job_id: str, worker: str
    ) -> ManualRun:
        """Run ``job_id`` once, now, without retries, recorded like a scheduled run."""
        ...


class JobsArea(FacadeBase):
    def _jobs(self) -> JobsPort:
        if self.jobs_port is None:
            raise InputError("the scheduler's jobs are not available in this session")
        return self.jobs_port

    def jobs(self) -> JobsOverview:
        """Every job of the registry and the job store: schedule, last run, next run."""
        info = dict(self._jobs().catalogue())
        with session_scope(self.engine) as session:
            statuses = job_status(session, info)
            rows = tuple(
                JobRow(
                    job_id=s.job_id,
                    schedule=s.schedule,
                    description=s.description,
                    scheduled=s.scheduled,
                    next_run=s.next_run,
                    last_run=_run_view(s.last_run) if s.last_run else None,
                    last_success=_run_view(s.last_success) if s.last_success else None,
                    failures_since_success=s.failures_since_success,
                )
                for s in statuses
            )
        return JobsOverview(rows, utcnow())

    def job_runs(self, job_id: str, limit: int = job_history.RECENT) -> tuple[RunView, ...]:
        """The job's recent runs, newest first (every attempt, failure and skip)."""
        with session_scope(self.engine) as session:
            return tuple(_run_view(r) for r in job_history.recent_runs(session, job_id, limit))

    def run_job(self, job_id: str, *, where: str = "the TUI", worker: str = "tui") -> RunOutcome:
        """Run one job now, recorded like a scheduled run and audited, as ``ngc-pilot jobs
        run`` does (no retries: a failure is shown, the next scheduled run retries)."""
        outcome = self._jobs().run_now(self.engine, self._prov, job_id, worker)
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=self.actor,
                action="job.run",
                subject=job_id,
                reason=f"run by hand in {where} by {self.actor}",
                details={"status": outcome.status, "attempts": outcome.attempts},
            )
        return RunOutcome(
            job_id, outcome.status, outcome.attempts, outcome.error, dict(outcome.summary)
        )

    def job_statuses(self, catalogue: Mapping[str, JobInfo]) -> list[Any]:
        """Each job of ``catalogue`` with its last run, last success and next run, as
        :func:`ngc_pilot.jobs.job_status` reports it."""
        with session_scope(self.engine) as session:
            return list(job_status(session, dict(catalogue)))

    def record_job_run(self, job_id: str, status: str, attempts: int, *, reason: str) -> None:
        """Audit a job an interface ran by hand itself (with its own retries)."""
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=self.actor,
                action="job.run",
                subject=job_id,
                reason=reason,
                details={"status": status, "attempts": attempts},
            )


def _run_view(run: JobRun) -> RunView:
    return RunView(
        id=run.id or 0,
        job_id=run.job_id,
        status=run.status,
        attempt=run.attempt,
        scheduled_for=run.scheduled_for,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=run.duration_seconds,
        error=run.error,
        summary=dict(run.summary or {}),
        worker=run.worker,
    )
