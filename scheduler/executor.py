"""A thread-pool executor that tells each run which fire time it is for.

APScheduler 3 calls a job's function without saying when the run was
scheduled, but ``job_run.scheduled_for`` must hold exactly that: it is how a
fire time is recognised as already run (by another process, before a
take-over).  This executor runs each fire time with
:data:`scheduler.runner.FIRE_TIME` set; otherwise it behaves like APScheduler's
thread-pool executor (same events, same error reporting).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.job import Job

from scheduler.runner import FIRE_TIME


def _run(job: Job, jobstore_alias: str, run_times: Sequence[datetime], logger_name: str) -> list:
    events: list[Any] = []
    for run_time in run_times:
        token = FIRE_TIME.set(run_time)
        try:
            events.extend(run_job(job, jobstore_alias, [run_time], logger_name))
        finally:
            FIRE_TIME.reset(token)
    return events


class FireTimeExecutor(BaseExecutor):
    def __init__(self, max_workers: int = 4):
        super().__init__()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="ngc-job"
        )

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        future = self._pool.submit(_run, job, job._jobstore_alias, run_times, self._logger.name)
        future.add_done_callback(lambda done: self._done(job.id, done))

    def _done(self, job_id: str, future: concurrent.futures.Future[list]) -> None:
        error = future.exception()
        if error is None:
            self._run_job_success(job_id, future.result())
        else:
            self._run_job_error(job_id, error, error.__traceback__)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)
