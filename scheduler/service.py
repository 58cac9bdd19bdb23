"""The scheduler service: leader election, APScheduler on the app database.

:class:`Service` runs until its stop event is set.  It tries the leader lock
(:mod:`scheduler.locks`); while it holds it, a ``BackgroundScheduler`` with
the job store in the application database (table ``apscheduler_jobs``, made
by the migrations) runs the jobs; otherwise the process waits as standby and
tries again every ``poll_seconds``.  The leader checks its lock as often and
stops its scheduler the moment the lock is gone.

Job store semantics (:func:`sync_jobs`): at every start the registry's jobs
are written to the store with ``replace_existing``, so changed settings
apply, but a stored next run time is kept when it is already due (a run
missed while no process led: it runs once, coalesced) or when the trigger has
not changed; jobs no longer in the registry are removed.  Job defaults:
``coalesce`` (a backlog of missed fire times is one run), ``max_instances=1``
and no misfire limit (a missed run runs however late; with coalescing that is
at most one run per job at start).

Every process, leader or standby, also runs a :class:`~scheduler.claim_worker.ClaimWorker`:
the per-tenant work of ``meter`` and ``reconcile`` is split between replicas
through claims in the database (:mod:`ngc_pilot.shared_work`).

Not here: what a job does (:mod:`scheduler.registry`) and how a run is
recorded and retried (:mod:`scheduler.runner`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger

from ngc_pilot.db import utcnow
from scheduler import recording, runner
from scheduler.claim_worker import ClaimWorker
from scheduler.executor import FireTimeExecutor
from scheduler.locks import LeaderLock, leader_lock
from scheduler.registry import JobDef
from scheduler.runner import RunnerContext

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
RUN_JOB = "scheduler.runner:run_job"
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
POLL_SECONDS = 2.0


class AppJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy store on the application's engine, which it must not dispose."""

    def shutdown(self) -> None:
        pass


class StoreScheduler(BackgroundScheduler):
    """APScheduler's background scheduler, minus one pass over the store after shutdown.

    APScheduler 3's main loop looks for due jobs once more after
    ``shutdown()``: it submits them to the executor it has just shut down (an
    error) and still moves their next run time on, so a run due at that moment
    was lost instead of running at the next start.  Checking the state under
    the job-store lock (which ``shutdown`` takes too) closes that gap.
    """

    def _process_jobs(self) -> float | None:
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()


def make_scheduler(engine: Any, *, max_workers: int = 4) -> BackgroundScheduler:
    """A scheduler on ``engine``'s job store (not started)."""
    return StoreScheduler(
        jobstores={"default": AppJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        executors={"default": FireTimeExecutor(max_workers)},
        job_defaults=dict(JOB_DEFAULTS),
        timezone=UTC,
    )


def next_run_time(
    stored: datetime | None, stored_trigger: BaseTrigger | None, trigger: BaseTrigger, now: datetime
) -> datetime | None:
    """When a (re)added job should next run, given what the store had.

    A new job, or one whose trigger changed and is not due, starts from its
    trigger; a due run (missed while down) and an unchanged trigger keep the
    stored time.
    """
    if stored_trigger is None:
        return trigger.get_next_fire_time(None, now)
    if stored is not None and stored <= now:
        return stored
    if repr(stored_trigger) == repr(trigger):
        return stored
    return trigger.get_next_fire_time(None, now)


def sync_jobs(
    scheduler: BackgroundScheduler, registry: Mapping[str, JobDef], now: datetime | None = None
) -> dict[str, datetime | None]:
    """Write ``registry`` into the (started) scheduler's store; returns each job's next run."""
    now = now or utcnow()
    planned: dict[str, datetime | None] = {}
    stored_jobs = {job.id: job for job in scheduler.get_jobs()}  # unrestorable ones are dropped
    for job in registry.values():
        stored = stored_jobs.get(job.id)
        when = next_run_time(
            stored.next_run_time if stored else None,
            stored.trigger if stored else None,
            job.trigger,
            now,
        )
        scheduler.add_job(
            RUN_JOB,
            trigger=job.trigger,
            args=[job.id],
            id=job.id,
            name=job.id,
            replace_existing=True,
            next_run_time=when,
        )
        planned[job.id] = when
    for job_id in stored_jobs.keys() - registry.keys():
        log.info("removing job %s from the store: no longer in the registry", job_id)
        scheduler.remove_job(job_id)
    return planned


class Service:
    """Leader election around one scheduler; :meth:`run` blocks until ``context.stop``."""

    def __init__(
        self,
        context: RunnerContext,
        *,
        lock: LeaderLock | None = None,
        poll_seconds: float = POLL_SECONDS,
        max_workers: int = 4,
    ):
        self.context = context
        self.lock = lock or leader_lock(context.engine, context.settings.lock_file)
        self.poll_seconds = poll_seconds
        self.max_workers = max_workers
        self.leading = threading.Event()
        self.scheduler: BackgroundScheduler | None = None

    def run(self) -> None:
        stop = self.context.stop
        runner.configure(self.context)
        runner.preload(self.context.registry)
        standby_logged = False
        worker = ClaimWorker(self.context)  # polls every service.claim_poll_seconds
        worker.start()
        try:
            while not stop.is_set():
                if not self._try_acquire():
                    if not standby_logged:
                        log.info(
                            "standby: %s waits; another serve process leads", self.context.worker
                        )
                        standby_logged = True
                    stop.wait(self.poll_seconds)
                    continue
                standby_logged = False
                self._lead()
        finally:
            stop.set()  # ends the claim worker too (its item finishes first)
            worker.join()
            runner.configure(None)

    def _try_acquire(self) -> bool:
        try:
            return self.lock.try_acquire()
        except Exception as exc:  # the database is unreachable: stay standby, try again
            log.warning("leader lock: %s", recording.error_text(exc))
            return False

    def _lead(self) -> None:
        stop = self.context.stop
        scheduler = make_scheduler(self.context.engine, max_workers=self.max_workers)
        scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        lost = False
        try:
            scheduler.start(paused=True)
            planned = sync_jobs(scheduler, self.context.registry)
            scheduler.resume()
            self.scheduler = scheduler
            self.leading.set()
            log.info(
                "leader: %s runs the scheduler; next runs: %s",
                self.context.worker,
                ", ".join(f"{j}={t.isoformat() if t else 'paused'}" for j, t in planned.items()),
            )
            while not stop.wait(self.poll_seconds):
                if not self.lock.held():
                    log.warning("leader: %s lost the leader lock; standing by", self.context.worker)
                    lost = True
                    break
        except Exception as exc:
            log.error("leader: the scheduler failed: %s", recording.error_text(exc))
            lost = True
        finally:
            self.leading.clear()
            self.scheduler = None
            if scheduler.running:
                # On a lost lock, running jobs finish on their own (their job
                # locks keep them exclusive); on stop, wait for them.
                scheduler.shutdown(wait=not lost)
            self.lock.release()
        if lost:
            stop.wait(self.poll_seconds)

    def _skipped(self, event: JobSubmissionEvent) -> None:
        """A fire time that came while the previous run was still going."""
        for fire_time in event.scheduled_run_times:
            try:
                recording.skipped(
                    self.context.engine,
                    event.job_id,
                    fire_time,
                    self.context.worker,
                    "the previous run was still going",
                )
            except Exception as exc:
                log.warning("could not record a skipped run: %s", recording.error_text(exc))
