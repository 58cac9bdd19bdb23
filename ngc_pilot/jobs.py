"""The scheduler's jobs as people and Prometheus see them (read only).

For each job: when it runs next (the job store's ``apscheduler_jobs`` row,
read as a column, without unpickling the job), its last run (status, attempt,
start, duration, error, summary), its last success, and how many attempts
failed since that success.  Used by ``ngc-pilot jobs``, the TUI and
``/metrics``; it imports nothing of APScheduler, so reading it is cheap.

A few indexed queries per job (``job_run`` grows by every run, so nothing here
scans it whole).  ``skipped`` rows (a fire time not run, and why) are not
"last runs".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ngc_pilot.models import JobRun, apscheduler_jobs


@dataclass(frozen=True)
class JobInfo:
    """What the caller knows of a job beyond the database (from the registry)."""

    schedule: str = ""
    description: str = ""


@dataclass
class JobStatus:
    job_id: str
    schedule: str
    description: str
    scheduled: bool  # in the job store (serve has run with this job)
    next_run: datetime | None
    last_run: JobRun | None
    last_success: JobRun | None
    failures_since_success: int

    @property
    def healthy(self) -> bool:
        return self.last_run is None or self.last_run.status in ("succeeded", "running")

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "schedule": self.schedule,
            "description": self.description,
            "scheduled": self.scheduled,
            "next_run": _iso(self.next_run),
            "last_run": run_dict(self.last_run) if self.last_run else None,
            "last_success": run_dict(self.last_success) if self.last_success else None,
            "failures_since_success": self.failures_since_success,
        }


def run_dict(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "attempt": run.attempt,
        "scheduled_for": _iso(run.scheduled_for),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "error": run.error,
        "summary": run.summary,
        "worker": run.worker,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def next_runs(session: Session) -> dict[str, datetime | None]:
    """Job id -> next run time, from the job store (None: in the store but paused)."""
    rows = session.connection().execute(
        sa_select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time)
    )
    return {
        row.id: datetime.fromtimestamp(row.next_run_time, UTC)
        if row.next_run_time is not None
        else None
        for row in rows
    }


def job_status(
    session: Session, known: Mapping[str, JobInfo] | Iterable[str] = ()
) -> list[JobStatus]:
    """Every job in ``known`` or in the job store, in that order."""
    info: dict[str, JobInfo] = (
        dict(known) if isinstance(known, Mapping) else {job_id: JobInfo() for job_id in known}
    )
    store = next_runs(session)
    job_ids = list(info) + sorted(set(store) - set(info))
    statuses = []
    for job_id in job_ids:
        last_run = _latest(session, job_id, ("succeeded", "failed", "running"))
        last_success = (
            last_run
            if last_run is not None and last_run.status == "succeeded"
            else _latest(session, job_id, ("succeeded",))
        )
        failures = 0
        if last_run is not None and last_run.status != "succeeded":
            failures = _failures_after(session, job_id, last_success)
        statuses.append(
            JobStatus(
                job_id=job_id,
                schedule=info.get(job_id, JobInfo()).schedule,
                description=info.get(job_id, JobInfo()).description,
                scheduled=job_id in store,
                next_run=store.get(job_id),
                last_run=last_run,
                last_success=last_success,
                failures_since_success=failures,
            )
        )
    return statuses


def _latest(session: Session, job_id: str, statuses: tuple[str, ...]) -> JobRun | None:
    return session.exec(
        select(JobRun)
        .where(JobRun.job_id == job_id, col(JobRun.status).in_(statuses))
        .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
        .limit(1)
    ).first()


def _failures_after(session: Session, job_id: str, success: JobRun | None) -> int:
    query = select(func.count()).where(JobRun.job_id == job_id, JobRun.status == "failed")
    if success is not None:
        query = query.where(col(JobRun.started_at) > success.started_at)
    return int(session.exec(query).one())
