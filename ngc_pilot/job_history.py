"""The recent runs of one scheduler job, newest first: every attempt, failure and skip.

Why this exists: :mod:`ngc_pilot.jobs` answers "how is each job doing" (its
last run, last success, failures since); the TUI's Jobs screen also shows the
history behind that answer for the job an operator looks at, so that retries
(attempt 2, 3, … of one fire time) and skipped fire times are visible.  One
indexed query (``ix_job_run_job_started``) with a limit; read only.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from ngc_pilot.models import JobRun

RECENT = 40


def recent_runs(session: Session, job_id: str, limit: int = RECENT) -> list[JobRun]:
    """The last ``limit`` rows of ``job_id`` (any status), newest first."""
    return list(
        session.exec(
            select(JobRun)
            .where(JobRun.job_id == job_id)
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            .limit(limit)
        ).all()
    )
