"""Which jobs the service runs, when, and what each one calls.

A job is named by a stable id and calls a function *by its import path*
(``"ngc_pilot.metering:meter"``), resolved only when the job runs: the
registry can be built (for ``jobs`` and ``serve``) without importing the
cloud SDK, and the job store never holds code, only the id (see
:mod:`scheduler.runner`).  Arguments are named, not passed: ``uses`` lists
what the runner supplies (``prov``, ``metering``, ``engine``, ``settings``,
``replica``: this process as a claimer of shared work, see
:mod:`ngc_pilot.shared_work`).

Interval triggers are anchored at a fixed instant, so that fire times fall on
the clock (every 60 minutes means at :00) and a restart computes the same fire
times as the process before it.

Test hook: ``NGC_PILOT_TEST_JOBS`` holds a JSON list of job definitions
(``{"id", "target", "seconds", "uses", "retries", "backoff_seconds"}``) that
*replace* the registry, so that a test can run ``ngc-pilot serve`` as a real
process with a job firing every second.  Nothing else reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ngc_pilot.errors import InputError
from ngc_pilot.settings import ServiceSettings
from policies.problems import Problem

ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
"""Interval triggers count from here, so fire times are aligned to the clock."""

ARGUMENTS = ("prov", "metering", "engine", "settings", "replica")
"""What a job may ask the runner for, by name."""

TEST_JOBS_ENV = "NGC_PILOT_TEST_JOBS"

# Jobs that change tenants (quotas, roles, projects) are serialised within the
# serve process, so that expiry never races a reconcile on the same tenant.
TENANTS = "tenants"


@dataclass(frozen=True)
class JobDef:
    """One scheduled job: what it calls, when, and how failures are retried."""

    id: str
    target: str
    uses: tuple[str, ...]
    trigger: BaseTrigger
    schedule: str
    description: str
    group: str | None = None
    retries: int = 3
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 600.0

    def __post_init__(self) -> None:
        unknown = [name for name in self.uses if name not in ARGUMENTS]
        if unknown:
            raise ValueError(f"job {self.id}: unknown arguments {unknown}; allowed: {ARGUMENTS}")
        if ":" not in self.target:
            raise ValueError(
                f"job {self.id}: target must be 'module:function', not {self.target!r}"
            )


def every(minutes: float = 0, *, seconds: float = 0) -> IntervalTrigger:
    """An interval trigger whose fire times fall on the clock (see :data:`ANCHOR`)."""
    return IntervalTrigger(minutes=minutes, seconds=seconds, start_date=ANCHOR, timezone=UTC)


def daily(at: str) -> CronTrigger:
    """Every day at ``HH:MM`` UTC."""
    hour, minute = at.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=UTC)


def monthly(day: int, at: str, *, hours_after: int = 0) -> CronTrigger:
    """On ``day`` of every month at ``HH:MM`` UTC, plus ``hours_after`` hours."""
    hour, minute = at.split(":")
    return CronTrigger(
        day=day, hour=(int(hour) + hours_after) % 24, minute=int(minute), timezone=UTC
    )


def default_jobs(service: ServiceSettings) -> list[JobDef]:
    """The service's jobs, scheduled from ``service`` settings."""
    return [
        JobDef(
            id="meter",
            target="ngc_pilot.shared_work:meter_job",
            uses=("prov", "settings", "replica"),
            trigger=every(service.meter_minutes),
            schedule=f"every {service.meter_minutes} min",
            description="Meter usage per tenant and window (backfills missed windows).",
        ),
        JobDef(
            id="capacity",
            target="ngc_pilot.capacity_snapshot:snapshot",
            uses=("prov",),
            trigger=every(service.capacity_minutes),
            schedule=f"every {service.capacity_minutes} min",
            description="Snapshot Placement's capacity and the tenants' allocations.",
            # A snapshot is soon replaced by the next one: retry briefly.
            retries=2,
            backoff_seconds=15.0,
            backoff_max_seconds=60.0,
        ),
        JobDef(
            id="reconcile",
            target="ngc_pilot.shared_work:reconcile_job",
            uses=("prov", "replica"),
            trigger=every(service.reconcile_minutes),
            schedule=f"every {service.reconcile_minutes} min",
            description="Report drift of every tenant; repair it when the policy says so.",
            group=TENANTS,
        ),
        JobDef(
            id="expiry",
            target="ngc_pilot.lifecycle:expire",
            uses=("prov",),
            trigger=daily(service.daily_at),
            schedule=f"daily {service.daily_at} UTC",
            description="Expiry notices, suspension at the end, teardown after the grace period.",
            group=TENANTS,
        ),
        JobDef(
            id="data_access",
            target="ngc_pilot.lifecycle:switch_data_access",
            uses=("prov",),
            trigger=daily(service.daily_at),
            schedule=f"daily {service.daily_at} UTC",
            description="Grant the data-access role to tenants whose date has come.",
            group=TENANTS,
        ),
        JobDef(
            id="rate",
            target="ngc_pilot.billing:rate_due",
            uses=("engine", "settings"),
            trigger=daily(service.daily_at),
            schedule=f"daily {service.daily_at} UTC",
            description="Shadow invoices: last month (final once ended) and this month.",
        ),
        JobDef(
            id="report",
            target="ngc_pilot.reports:monthly_report",
            uses=("engine", "settings"),
            trigger=monthly(1, service.daily_at, hours_after=1),
            schedule=f"monthly, day 1 {service.daily_at} UTC (after rate)",
            description="The steering group's report of last month (PDF) under report.dir, queued by mail to report.recipients.",
        ),
        JobDef(
            id="mail",
            target="ngc_pilot.mail:send_job",
            uses=("engine", "settings"),
            trigger=every(service.mail_minutes),
            schedule=f"every {service.mail_minutes} min",
            description="Send the outbox through SMTP, each message at most once, with retries.",
            # No job-level retry: each message has its own backoff, and the next run
            # comes within minutes.  A run in which messages failed for good is
            # recorded failed (their keys in its summary); /metrics and the
            # NgcPilotMailNotDelivered alert keep them visible until someone acts.
            retries=0,
        ),
        JobDef(
            id="statement",
            target="ngc_pilot.mail:statement_due",
            uses=("engine", "settings"),
            trigger=monthly(3, service.daily_at),
            schedule=f"monthly, 3rd {service.daily_at} UTC",
            description="Queue last month's usage statement to each tenant's PI (after rate).",
        ),
    ]


def build_registry(
    service: ServiceSettings,
    extra: Iterable[JobDef] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, JobDef]:
    """Job id -> definition: the default jobs plus ``extra`` (or the test hook's jobs only)."""
    env = os.environ if environ is None else environ
    from_env = jobs_from_environment(env)
    jobs = from_env if from_env is not None else default_jobs(service)
    registry: dict[str, JobDef] = {}
    for job in [*jobs, *extra]:
        registry[job.id] = job
    return registry


def jobs_from_environment(environ: Mapping[str, str]) -> list[JobDef] | None:
    """The test hook's job definitions, or None when it is not set."""
    text = environ.get(TEST_JOBS_ENV)
    if not text:
        return None
    try:
        items = json.loads(text)
        return [
            JobDef(
                id=str(item["id"]),
                target=str(item["target"]),
                uses=tuple(item.get("uses", ("engine",))),
                trigger=every(seconds=float(item["seconds"])),
                schedule=f"every {item['seconds']} s",
                description=f"test job {item['id']}",
                retries=int(item.get("retries", 0)),
                backoff_seconds=float(item.get("backoff_seconds", 0.1)),
                backoff_max_seconds=float(item.get("backoff_max_seconds", 1.0)),
            )
            for item in items
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(
            [Problem(TEST_JOBS_ENV, "(json)", text[:80], f"not a list of test jobs: {exc}")]
        ) from exc


def lookup(registry: Mapping[str, JobDef], job_id: str) -> JobDef:
    """The job called ``job_id``, or a clear error naming the ones there are."""
    try:
        return registry[job_id]
    except KeyError:
        raise InputError(
            [Problem("jobs", "job", job_id, f"no such job; jobs: {', '.join(registry)}")]
        ) from None
