"""Running one job: locks, the run guard, attempts with backoff, recording.

The job store holds only ``scheduler.runner:run_job`` and a job id, so a
persisted job finds everything else in the process that runs it: ``serve``
calls :func:`configure` with a :class:`RunnerContext` (settings, engine, the
registry) before the scheduler starts, and :func:`run_job` reads it.  A
manual run (``ngc-pilot jobs run``) passes its context to :func:`run`
directly and is recorded the same way.

One run of a job, for one fire time:

1. jobs in the same group (those that change tenants) wait for each other;
2. the job lock is taken, or the fire time is recorded ``skipped`` (it is
   running elsewhere);
3. if some process already ran this fire time to an end, it is skipped;
4. attempts: each one a ``job_run`` row; a failure is retried after
   ``backoff_seconds * 2**(attempt-1)`` (at least a transient error's
   ``retry_after``, at most ``backoff_max_seconds``) up to ``retries`` times;
   a :class:`~ngc_pilot.errors.PermanentError` or a cloud error that says a
   retry will not help is not retried; stopping the service ends the waiting.
   A job that returns a report counting failures (``"failed": N > 0``, e.g.
   two tenants of ten) has failed too: it is retried, and ``jobs`` and
   ``/metrics`` show it; the report is kept in the row's summary.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine

from ngc_pilot.claims import Replica
from ngc_pilot.db import utcnow
from ngc_pilot.errors import PermanentError, TransientError
from ngc_pilot.settings import Settings
from provisioner.backend import CloudError
from scheduler import recording
from scheduler.locks import job_lock, worker_name
from scheduler.registry import JobDef, lookup

if TYPE_CHECKING:
    from ngc_pilot.provisioning import Provisioner

log = logging.getLogger(__name__)

FIRE_TIME: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "ngc_pilot_fire_time", default=None
)
"""The fire time the scheduler runs a job for (set by :mod:`scheduler.executor`)."""


@dataclass
class RunnerContext:
    """What a job run needs, built once per process from its settings."""

    settings: Settings
    engine: Engine
    registry: dict[str, JobDef]
    provisioner_factory: Callable[[], Provisioner]
    stop: threading.Event = field(default_factory=threading.Event)
    worker: str = field(default_factory=worker_name)
    _provisioner: Provisioner | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def provisioner(self) -> Provisioner:
        with self._lock:
            if self._provisioner is None:
                self._provisioner = self.provisioner_factory()
            return self._provisioner

    def replica(self, fire_time: datetime | None = None) -> Replica:
        """This process as a claimer of shared work (for the fire time being run, if any)."""
        service = self.settings.service
        return Replica(
            owner=self.worker,
            stop=self.stop,
            lease_seconds=service.claim_lease_seconds,
            poll_seconds=service.claim_poll_seconds,
            tenants_per_item=service.tenants_per_item,
            cycle_key=fire_time.isoformat() if fire_time else None,
        )

    def argument(self, name: str) -> Any:
        if name == "prov":
            return self.provisioner()
        if name == "metering":
            return self.settings.metering
        if name == "engine":
            return self.engine
        if name == "settings":
            return self.settings
        if name == "replica":
            return self.replica(FIRE_TIME.get())
        raise ValueError(f"unknown job argument {name!r}")


@dataclass
class Outcome:
    """How a run ended: ``succeeded``, ``failed`` or ``skipped``, after how many attempts."""

    job_id: str
    status: str
    attempts: int
    scheduled_for: datetime
    summary: dict[str, Any]
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "status": self.status,
            "attempts": self.attempts,
            "scheduled_for": self.scheduled_for.isoformat(),
            "summary": self.summary,
            "error": self.error,
        }


_context: RunnerContext | None = None
_group_locks: dict[str, threading.Lock] = {}
_group_locks_guard = threading.Lock()


def configure(context: RunnerContext | None) -> None:
    """Set (or clear, with None) the context that scheduled runs in this process use."""
    global _context
    _context = context


def current() -> RunnerContext:
    if _context is None:
        raise RuntimeError(
            "scheduler.runner is not configured: `ngc-pilot serve` calls configure() first"
        )
    return _context


def run_job(job_id: str) -> dict[str, Any]:
    """The job store's entry point: run ``job_id`` for the fire time the scheduler gave."""
    context = current()
    return run(context, job_id, scheduled_for=FIRE_TIME.get()).as_dict()


def run(
    context: RunnerContext,
    job_id: str,
    *,
    scheduled_for: datetime | None = None,
    retries: int | None = None,
    worker: str | None = None,
) -> Outcome:
    """Run ``job_id`` once (with its retries) and record every attempt.

    ``scheduled_for`` None means a manual run, now, that no guard skips;
    ``retries`` overrides the job's own.
    """
    job = lookup(context.registry, job_id)
    manual = scheduled_for is None
    fire_time = scheduled_for or utcnow()
    who = worker or context.worker
    with _group(job.group), job_lock(context.engine, context.settings.lock_file, job.id) as got:
        if not got:
            row = recording.skipped(context.engine, job.id, fire_time, who, "running elsewhere")
            return Outcome(job.id, "skipped", 0, fire_time, row.summary)
        if not manual and recording.concluded(context.engine, job.id, fire_time):
            reason = "this fire time already ran"
            row = recording.skipped(context.engine, job.id, fire_time, who, reason)
            return Outcome(job.id, "skipped", 0, fire_time, row.summary)
        return _attempts(context, job, fire_time, job.retries if retries is None else retries, who)


class ReportedFailures(Exception):
    """The job returned, but its report counts failures (``"failed": N``, e.g. per tenant)."""

    def __init__(self, failed: int, summary: dict[str, Any]):
        super().__init__(f"the job reported {failed} failure(s); see its summary")
        self.summary = summary


def _attempts(
    context: RunnerContext, job: JobDef, fire_time: datetime, retries: int, worker: str
) -> Outcome:
    attempt = 0
    while True:
        attempt += 1
        row = recording.start(context.engine, job.id, fire_time, attempt, worker)
        try:
            summary = recording.summary_of(_call(context, job))
            failed = summary.get("failed")
            if isinstance(failed, int) and not isinstance(failed, bool) and failed > 0:
                raise ReportedFailures(failed, summary)
        except Exception as exc:
            error = recording.error_text(exc)
            # Where it failed, without the message (which may carry what it should not).
            log.debug(
                "job %s attempt %d failed at:\n%s",
                job.id,
                attempt,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            delay = backoff(job, attempt, exc)
            final = delay is None or attempt > retries or context.stop.is_set()
            summary = dict(exc.summary) if isinstance(exc, ReportedFailures) else {}
            if final:
                summary.update(gave_up_after_attempts=attempt, retryable=delay is not None)
            else:
                summary.update(retry_in_seconds=delay)
            recording.finish(context.engine, row, "failed", summary=summary, error=error)
            if final:
                return Outcome(job.id, "failed", attempt, fire_time, summary, error)
            assert delay is not None
            if context.stop.wait(delay):
                log.info("job=%s retry abandoned: the service is stopping", job.id)
                return Outcome(job.id, "failed", attempt, fire_time, summary, error)
            continue
        recording.finish(context.engine, row, "succeeded", summary=summary)
        return Outcome(job.id, "succeeded", attempt, fire_time, summary)


def backoff(job: JobDef, attempt: int, error: BaseException) -> float | None:
    """Seconds to wait after failed ``attempt`` (1-based); None if not worth retrying."""
    if not retryable(error):
        return None
    delay = job.backoff_seconds * 2 ** (attempt - 1)
    if isinstance(error, TransientError):
        delay = max(delay, error.retry_after)
    return min(delay, job.backoff_max_seconds)


def retryable(error: BaseException) -> bool:
    """False for errors that say a person must act (a permanent error, a cloud's 4xx)."""
    if isinstance(error, PermanentError):
        return False
    return not (isinstance(error, CloudError) and not error.transient)


def resolve(target: str) -> Callable[..., Any]:
    """The function ``"module:function"`` names (the import's own error if it fails)."""
    module_name, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return cast(Callable[..., Any], found)


def preload(registry: dict[str, JobDef]) -> dict[str, str]:
    """Import every job's function now, in this thread; returns job id -> error for failures.

    ``serve`` calls this before any job thread starts, so that a broken job
    shows at start instead of at its first fire time, and so that the job
    threads do not race to import the jobs' modules.  (The CLI's deferred
    modules, ``ngc_pilot.lazy``, import on first use under one lock, so they
    need nothing here.)
    """
    errors = {}
    for job in registry.values():
        try:
            resolve(job.target)
        except Exception as exc:
            errors[job.id] = recording.error_text(exc)
            log.error("job=%s cannot be loaded: %s", job.id, errors[job.id])
    return errors


def _call(context: RunnerContext, job: JobDef) -> Any:
    function = resolve(job.target)
    return function(*(context.argument(name) for name in job.uses))


def _group(group: str | None) -> contextlib.AbstractContextManager[Any]:
    """The in-process lock of ``group`` (None: no lock)."""
    if group is None:
        return contextlib.nullcontext()
    with _group_locks_guard:
        return _group_locks.setdefault(group, threading.Lock())
