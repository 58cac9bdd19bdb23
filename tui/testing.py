"""Helpers for driving the TUI in tests and benchmarks (shipped, like structlog's ``testing``).

``settle`` waits until every worker has finished and its messages have been
handled, so a test asserts on what the operator would see, without sleeping.
``demo_services`` builds services on a database URL; ``populate`` fills it
through the real service layer (the demo call, optionally a committed
selection).  ``record_tenant`` writes a tenant row and its step ledger the way
the provisioner leaves them, for screens tested without a cloud.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DirectoryTree, Static
from textual.worker import Worker

import ngc_pilot
from ngc_pilot.db import session_scope
from ngc_pilot.models import ProvisionStep, Tenant
from ngc_pilot.selection import SelectOptions
from ngc_pilot.settings import build_settings
from tui.services import DecisionView, Services

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


def _busy(worker: Worker[Any]) -> bool:
    # A DirectoryTree keeps a loader worker alive for as long as it is shown.
    return not worker.is_finished and not isinstance(worker.node, DirectoryTree)


def demo_services(url: str, actor: str = "tester") -> Services:
    settings = build_settings(
        overrides={"database": {"url": url}, "audit": {"actor": actor}}, environ={}
    )
    return Services.from_settings(settings)


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
) -> None:
    """A tenant row for ``pilot_id`` in ``state`` with ``steps`` ((step, status), ...) in its
    ledger, written directly as the provisioner would have left them (no cloud)."""
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
