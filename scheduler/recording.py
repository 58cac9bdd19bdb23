"""Job runs in the ``job_run`` table, and the one log line per run.

Each attempt is a row: ``running`` when it starts, then ``succeeded`` (with
the job's report as ``summary``) or ``failed`` (with an error text).  Rows are
written in short transactions of their own, so a run that crashes leaves a
``running`` row behind rather than nothing.

Nothing secret may reach a row or a log line: error texts are the exception's
type and message with URL passwords and ``password=...``-style values masked,
SQL statements and their parameters are dropped, and summary keys that look
like secrets are masked too.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlmodel import col, select

from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.models import JobRun

log = logging.getLogger("ngc_pilot.jobs")

ERROR_MAX = 2000  # job_run.error's length
_SECRET_WORDS = ("password", "passwd", "secret", "token", "private_key", "credential")
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)[^@\s]+@")
_KEY_VALUE = re.compile(
    r"(?P<key>\b[\w-]*(?:" + "|".join(_SECRET_WORDS) + r")[\w-]*\b['\"]?\s*[=:]\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;)}\]]+)",
    re.IGNORECASE,
)


def error_text(error: BaseException) -> str:
    """``Type: message`` without secrets or SQL, at most :data:`ERROR_MAX` characters."""
    if isinstance(error, sa_exc.StatementError) and error.orig is not None:
        # The driver's message, not SQLAlchemy's (which appends SQL and parameters).
        inner = error.orig
        message = f"{type(error).__name__} ({type(inner).__name__}): {inner}"
    else:
        message = f"{type(error).__name__}: {error}"
    return mask(message)[:ERROR_MAX]


def mask(message: str) -> str:
    """``message`` with URL passwords and ``secret=value`` pairs replaced by ``***``."""
    message = _URL_PASSWORD.sub(r"\g<head>***@", message)
    return _KEY_VALUE.sub(r"\g<key>***", message)


def summary_of(result: Any) -> dict[str, Any]:
    """A job's return value as a JSON object (``.as_dict()`` if it has one)."""
    if hasattr(result, "as_dict"):
        result = result.as_dict()
    if result is None:
        data: Any = {}
    elif isinstance(result, dict):
        data = result
    elif isinstance(result, list | tuple):
        data = {"items": list(result)}
    else:
        data = {"result": result}
    return _masked(json.loads(json.dumps(data, default=str)))


def _masked(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: "***" if any(w in str(key).lower() for w in _SECRET_WORDS) else _masked(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_masked(item) for item in data]
    return data


def start(
    engine: Engine, job_id: str, scheduled_for: datetime, attempt: int, worker: str
) -> JobRun:
    with session_scope(engine) as session:
        run = JobRun(
            job_id=job_id,
            scheduled_for=scheduled_for,
            started_at=utcnow(),
            status="running",
            attempt=attempt,
            worker=worker,
        )
        session.add(run)
    return run


def finish(
    engine: Engine,
    run: JobRun,
    status: str,
    *,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> JobRun:
    with session_scope(engine) as session:
        row = session.get(JobRun, run.id)
        assert row is not None
        row.finished_at = utcnow()
        row.duration_seconds = (row.finished_at - row.started_at).total_seconds()
        row.status = status
        row.summary = summary or {}
        row.error = error
        session.add(row)
    _log(row)
    return row


def skipped(
    engine: Engine, job_id: str, scheduled_for: datetime, worker: str, reason: str
) -> JobRun:
    """A fire time this process did not run, and why."""
    now = utcnow()
    with session_scope(engine) as session:
        row = JobRun(
            job_id=job_id,
            scheduled_for=scheduled_for,
            started_at=now,
            finished_at=now,
            duration_seconds=0.0,
            status="skipped",
            attempt=0,
            summary={"reason": reason},
            worker=worker,
        )
        session.add(row)
    _log(row)
    return row


def concluded(engine: Engine, job_id: str, scheduled_for: datetime) -> bool:
    """Whether some process already ran ``job_id`` for ``scheduled_for`` to an end."""
    with session_scope(engine) as session:
        found = session.exec(
            select(JobRun.id)
            .where(
                JobRun.job_id == job_id,
                JobRun.scheduled_for == scheduled_for,
                col(JobRun.status).in_(("succeeded", "failed")),
            )
            .limit(1)
        ).first()
    return found is not None


def _log(row: JobRun) -> None:
    parts = [
        f"job={row.job_id}",
        f"status={row.status}",
        f"attempt={row.attempt}",
        f"scheduled_for={row.scheduled_for.isoformat() if row.scheduled_for else '-'}",
        f"duration={row.duration_seconds or 0:.3f}s",
        f"worker={row.worker}",
    ]
    if row.summary:
        parts.append("summary=" + json.dumps(row.summary, default=str, sort_keys=True)[:300])
    if row.error:
        parts.append("error=" + json.dumps(row.error[:300]))
    level = logging.WARNING if row.status == "failed" else logging.INFO
    log.log(level, " ".join(parts))
