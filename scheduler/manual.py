"""The scheduler's jobs as the service facade sees them: a catalogue and a run by hand.

:class:`SchedulerJobs` implements :class:`ngc_pilot.facade.jobs.JobsPort`, so
that the facade (which does not import the scheduler) can list the registry's
jobs and run one now, recorded like a scheduled run.  It does not audit (the
facade does) and does not retry (a failure is shown; the next scheduled run
retries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ngc_pilot.facade.jobs import ManualRun
from ngc_pilot.jobs import JobInfo
from ngc_pilot.settings import ServiceSettings, Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ngc_pilot.provisioning import Provisioner
    from scheduler.registry import JobDef


class SchedulerJobs:
    """The registry built from ``settings`` (the default schedules when None)."""

    def __init__(self, settings: Settings | None) -> None:
        self.settings = settings

    def _registry(self) -> dict[str, JobDef]:
        from scheduler.registry import build_registry  # APScheduler: only when jobs are shown

        return build_registry(self.settings.service if self.settings else ServiceSettings())

    def catalogue(self) -> Mapping[str, JobInfo]:
        return {
            job.id: JobInfo(schedule=job.schedule, description=job.description)
            for job in self._registry().values()
        }

    def run_now(
        self, engine: Engine, provisioner: Callable[[], Provisioner], job_id: str, worker: str
    ) -> ManualRun:
        from ngc_pilot.errors import InputError
        from scheduler import runner
        from scheduler.registry import lookup

        if self.settings is None:
            raise InputError("running a job needs the settings; start the TUI with ngc-pilot tui")
        context = runner.RunnerContext(
            settings=self.settings,
            engine=engine,
            registry=self._registry(),
            provisioner_factory=provisioner,
        )
        lookup(context.registry, job_id)
        outcome = runner.run(context, job_id, retries=0, worker=f"{context.worker}/{worker}")
        return ManualRun(outcome.status, outcome.attempts, outcome.error, dict(outcome.summary))
