"""Helpers for driving the TUI in tests and benchmarks (shipped, like structlog's ``testing``).

``settle`` waits until every worker has finished and its messages have been
handled, so a test asserts on what the operator would see, without sleeping.
``demo_services`` builds services on a database URL; ``populate`` fills it
through the real service layer (the demo call, optionally a committed
selection).  ``record_tenant`` writes a tenant row and its step ledger the way
the provisioner leaves them, for screens tested without a cloud.
``record_usage`` and ``record_job_run`` / ``record_job_schedule`` write usage
records and scheduler rows the way metering and ``serve`` leave them;
``populate_metering`` uses them (and the real billing service) to give the
Usage & billing and Jobs screens a month of data; ``record_capacity_snapshot``
writes what the capacity job stores.  ``toasts`` reads the notifications the
screen shows.

One piece (over 400 lines): each helper is small and independent, and tests
and the benchmark import them from one place, as structlog's ``testing`` does.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DirectoryTree, Static
from textual.worker import Worker

import ngc_pilot
from ngc_pilot.db import session_scope
from ngc_pilot.facade import DecisionView, Services
from ngc_pilot.models import (
    CapacitySnapshot,
    JobRun,
    ProvisionStep,
    Tenant,
    UsageRecord,
    apscheduler_jobs,
)
from ngc_pilot.selection import SelectOptions
from ngc_pilot.settings import build_settings
from tui.app import open_services

DEMO_DATA = Path(ngc_pilot.__file__).resolve().parent / "demo_data"
DEMO_FILES = tuple(
    DEMO_DATA / name
    for name in ("nominations.yaml", "nominations-sample.csv", "nominations-sample.json")
)


def synchronously(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test body with ``asyncio.run`` (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


async def settle(pilot: Pilot[object], timeout: float = 120.0) -> None:
    """Wait for all workers and the messages they posted (and any they started)."""
    app = pilot.app

    async def _loop() -> None:
        quiet = 0
        while quiet < 2:  # twice idle: messages handled, nothing new started
            await pilot.pause()
            if any(_busy(worker) for worker in app.workers):
                quiet = 0
                await asyncio.sleep(0.02)
            else:
                quiet += 1

    await asyncio.wait_for(_loop(), timeout)


def plain_text(widget: Static, width: int = 220) -> str:
    """What a Static shows, as plain text (rich tables and groups rendered)."""
    content = widget.content
    if isinstance(content, str):
        return content
    if isinstance(content, Content):
        return content.plain
    console = Console(width=width, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(content)
    return captured.get()


@dataclass(frozen=True)
class Shown:
    """A notification as the screen shows it: its toast's text and severity."""

    text: str  # the title (if any) on the first line, then the message
    severity: str  # information | warning | error

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]


def toasts(app: App[Any]) -> list[Shown]:
    """The notifications the screen shows now, oldest first, read from its toasts (by
    their CSS type name: Textual does not export the Toast class)."""
    shown = []
    for toast in app.screen.query("Toast"):
        severity = next(
            (s for s in ("error", "warning", "information") if toast.has_class(f"-{s}")), ""
        )
        rendered = toast.render()
        text = rendered.plain if isinstance(rendered, Content) else str(rendered)
        shown.append(Shown(text, severity))
    return shown


def _busy(worker: Worker[Any]) -> bool:
    # A DirectoryTree keeps a loader worker alive for as long as it is shown.
    return not worker.is_finished and not isinstance(worker.node, DirectoryTree)


def demo_services(url: str, actor: str = "tester") -> Services:
    settings = build_settings(
        overrides={"database": {"url": url}, "audit": {"actor": actor}}, environ={}
    )
    return open_services(settings)


def populate(
    services: Services, *, commit: bool = True, files: Sequence[Path] = DEMO_FILES
) -> DecisionView | None:
    """Import the demo call; with ``commit``, record the optimal selection as decision 1."""
    services.import_files(list(files))
    if not commit:
        return None
    view = services.propose(SelectOptions())
    return services.commit(
        view, by="Steering group (test)", reason="Round 1 under the shipped policy"
    )


def record_tenant(
    services: Services,
    pilot_id: str,
    state: str,
    *,
    size: str = "small",
    cidr: str = "10.240.0.0/24",
    steps: Sequence[tuple[str, str]] = (),
    last_error: str | None = None,
    environment: str | None = None,
    run_id: str = "run000000001",
    created_at: datetime | None = None,
) -> None:
    """A tenant row for ``pilot_id`` in ``state`` with ``steps`` ((step, status), ...) in its
    ledger, written directly as the provisioner would have left them (no cloud);
    ``created_at`` (default: now) is when its provisioning started."""
    created = state not in ("planned", "torn_down")
    with session_scope(services.engine) as session:
        session.add(
            Tenant(
                pilot_id=pilot_id,
                cloud="devcloud",
                size=size,
                project_name=f"ngc-{pilot_id.lower()}",
                project_id=f"{pilot_id.lower().replace('-', '')}0000" if created else None,
                cidr=cidr,
                state=state,
                credential_id=f"cred-{pilot_id.lower()}" if state == "active" else None,
                environment_path=environment,
                last_error=last_error,
                **({"created_at": created_at} if created_at is not None else {}),
            )
        )
        for n, (step, status) in enumerate(steps, start=1):
            action, resource = step.split(" ")[:2]
            session.add(
                ProvisionStep(
                    pilot_id=pilot_id,
                    run_id=run_id,
                    step=step,
                    action=action,
                    resource=resource,
                    status=status,
                    resource_id=f"id-{n:04d}" if status == "done" else None,
                    error="HTTP 503 from neutron" if status == "failed" else None,
                )
            )


def record_usage(
    services: Services,
    pilot_id: str,
    start: datetime,
    end: datetime,
    per_hour: Callable[[datetime], dict[str, Decimal | str | int]],
    *,
    source: str = "test",
) -> int:
    """Hourly usage records of ``pilot_id`` for [start, end), as metering stores them:
    ``per_hour(window_start)`` gives metric -> quantity.  Returns the rows written."""
    from sqlalchemy import insert

    rows = []
    t = start
    while t < end:
        for metric, quantity in per_hour(t).items():
            rows.append(
                {
                    "pilot_id": pilot_id,
                    "metric": metric,
                    "window_start": t,
                    "window_end": t + timedelta(hours=1),
                    "quantity": Decimal(str(quantity)),
                    "source": source,
                    "collected_at": t + timedelta(hours=1),
                }
            )
        t += timedelta(hours=1)
    if rows:
        with session_scope(services.engine) as session:
            session.execute(insert(UsageRecord.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def record_job_run(
    services: Services,
    job_id: str,
    status: str,
    started_at: datetime,
    *,
    seconds: float | None = 1.5,
    attempt: int = 1,
    scheduled_for: datetime | None = None,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
    worker: str = "ops-host:4242",
) -> None:
    """One ``job_run`` row, as the scheduler's runner records an attempt (or a skip)."""
    finished = (
        None if status == "running" or seconds is None else started_at + timedelta(seconds=seconds)
    )
    with session_scope(services.engine) as session:
        session.add(
            JobRun(
                job_id=job_id,
                scheduled_for=scheduled_for or started_at,
                started_at=started_at,
                finished_at=finished,
                status=status,
                attempt=attempt,
                duration_seconds=None if finished is None else seconds,
                summary=summary or {},
                error=error,
                worker=worker,
            )
        )


def record_job_schedule(services: Services, job_id: str, next_run: datetime | None) -> None:
    """The job store's row of ``job_id`` (what ``serve`` keeps; only its next run is read)."""
    from sqlalchemy import insert

    with session_scope(services.engine) as session:
        session.execute(
            insert(apscheduler_jobs).values(
                id=job_id,
                next_run_time=next_run.timestamp() if next_run is not None else None,
                job_state=b"(written by tui.testing)",
            )
        )


@dataclass(frozen=True)
class Metered:
    """What ``populate_metering`` wrote: the month, the pilots, the job runs' clock."""

    month: str
    pilots: tuple[str, ...]
    now: datetime


METERED_MONTH = "2021-05"
METERED_FROM = datetime(2021, 5, 3, tzinfo=UTC)
METERED_UNTIL = datetime(2021, 5, 29, tzinfo=UTC)  # 26 days of hourly windows


def metered_hour(index: int) -> Callable[[datetime], dict[str, Decimal | str | int]]:
    """The usage of the ``index``-th seeded tenant in one hour: busy on weekdays 08-20 UTC.

    Tenant 0 from 3 to 29 May 2021 (20 weekdays, 6 weekend days): 2688 vCPU-h,
    10752 GB-h RAM, 312000 GB-h of volumes, 240 GPU-h; at the shipped prices
    (base fee 500 for the whole month) list 6599.38 DKK, all of it discounted
    during the pilot.
    """
    n = index + 1

    def hour(t: datetime) -> dict[str, Decimal | str | int]:
        busy = t.weekday() < 5 and 8 <= t.hour < 20
        vcpus = (8 if busy else 2) * n
        return {
            "vcpu_hours": vcpus,
            "ram_gb_hours": 4 * vcpus,
            "disk_gb_hours": 40 * n,
            "volume_gb_hours": 500 * n,
            "gpu_hours": 1 if busy and index == 0 else 0,
        }

    return hour


# A small cloud as Placement reports it: resource class -> (inventory, reserved,
# allocation ratio, used, promised to tenants).
PLACEMENT = {
    "VCPU": (64.0, 0.0, 4.0, 24.0, 48.0),
    "MEMORY_MB": (262144.0, 4096.0, 1.0, 65536.0, 98304.0),
    "DISK_GB": (2000.0, 0.0, 1.0, 120.0, 0.0),
}


def record_capacity_snapshot(
    services: Services,
    taken_at: datetime,
    lines: dict[str, tuple[float, float, float, float, float]] | None = None,
) -> None:
    """One capacity snapshot at ``taken_at`` (default lines: :data:`PLACEMENT`), written as
    the ``capacity`` job would have stored it (no cloud)."""
    with session_scope(services.engine) as session:
        for resource_class, (total, reserved, ratio, used, promised) in (
            lines or PLACEMENT
        ).items():
            session.add(
                CapacitySnapshot(
                    taken_at=taken_at,
                    resource_class=resource_class,
                    total=total,
                    reserved=reserved,
                    allocation_ratio=ratio,
                    used=used,
                    allocated=promised,
                )
            )


def populate_metering(
    services: Services,
    pilots: Sequence[str] | None = None,
    *,
    now: datetime = datetime(2021, 6, 1, 9, 30, tzinfo=UTC),
    rate: bool = True,
) -> Metered:
    """Tenants for ``pilots`` (default: the first three committed pilots by id) created in
    April 2021, hourly usage from 3 to 29 May 2021 (``metered_hour``), May rated by the
    real billing service (``rate``), and a scheduler history around ``now``: meter and
    capacity succeeding, reconcile failing twice after a retry, expiry never run."""
    chosen = list(pilots) if pilots is not None else sorted(p.id for p in services.pilots())[:3]
    for i, pid in enumerate(chosen):
        record_tenant(
            services,
            pid,
            "active",
            cidr=f"10.240.{i}.0/24",
            created_at=datetime(2021, 4, 20, 10, tzinfo=UTC),
        )
        record_usage(services, pid, METERED_FROM, METERED_UNTIL, metered_hour(i))
    if rate:
        services.rate_month(METERED_MONTH)
    hour = timedelta(hours=1)
    top = now.replace(minute=0, second=0, microsecond=0)
    for k in range(3, 0, -1):  # meter: hourly, all fine
        fired = top - (k - 1) * hour
        record_job_run(
            services,
            "meter",
            "succeeded",
            fired + timedelta(seconds=2),
            seconds=3.25 + k,
            scheduled_for=fired,
            summary={"windows_metered": 1, "tenants": len(chosen), "records_written": 5},
        )
    record_job_run(
        services,
        "capacity",
        "succeeded",
        top + timedelta(minutes=25),
        seconds=0.75,
        scheduled_for=top + timedelta(minutes=25),
        summary={"classes": 4},
    )
    fired = top - hour
    record_job_run(
        services,
        "reconcile",
        "succeeded",
        fired - hour,
        seconds=12.0,
        scheduled_for=fired - hour,
        summary={"checked": len(chosen), "drift": 0},
    )
    record_job_run(
        services,
        "reconcile",
        "failed",
        fired,
        seconds=4.0,
        scheduled_for=fired,
        error="TransientError: the cloud did not answer: HTTP 503 from keystone",
        summary={"retry_in_seconds": 30.0},
    )
    record_job_run(
        services,
        "reconcile",
        "failed",
        fired + timedelta(seconds=34),
        seconds=4.0,
        attempt=2,
        scheduled_for=fired,
        error="TransientError: the cloud did not answer: HTTP 503 from keystone",
        summary={"gave_up_after_attempts": 2, "retryable": True},
    )
    record_job_run(
        services,
        "reconcile",
        "skipped",
        fired + timedelta(seconds=1),
        seconds=0.0,
        attempt=0,
        scheduled_for=fired,
        summary={"reason": "running elsewhere"},
        worker="standby-host:77",
    )
    for job_id, nxt in (
        ("meter", top + hour),
        ("capacity", top + timedelta(minutes=30)),
        ("reconcile", top + hour),
        ("expiry", (top + timedelta(days=1)).replace(hour=2)),
        ("data_access", (top + timedelta(days=1)).replace(hour=2)),
    ):
        record_job_schedule(services, job_id, nxt)
    return Metered(METERED_MONTH, tuple(chosen), now)
