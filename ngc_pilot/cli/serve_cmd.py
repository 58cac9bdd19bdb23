"""``ngc-pilot serve`` and ``ngc-pilot jobs``: the scheduler service and its jobs.

``serve`` runs the scheduler (when this process is the leader; otherwise it
waits as standby) and ``/metrics`` until SIGTERM or Ctrl-C, then stops
cleanly: no new runs, running ones finish, retry waits end.  ``serve --once
JOB`` runs jobs once, like the scheduler would, and exits.  ``jobs`` lists
each job's last run, result and next run; ``jobs run JOB`` runs one now,
recorded like a scheduled run.

Everything heavy (APScheduler, the cloud SDK, the metrics server) is imported
inside the commands.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options
from ngc_pilot.errors import InputError
from policies.problems import Problem

if TYPE_CHECKING:
    from scheduler.runner import RunnerContext

log = logging.getLogger("ngc_pilot.serve")


def _runner_context(obj: AppContext) -> RunnerContext:
    from scheduler.registry import build_registry
    from scheduler.runner import RunnerContext

    return RunnerContext(
        settings=obj.settings,
        engine=obj.engine,
        registry=build_registry(obj.settings.service),
        provisioner_factory=obj.provisioner,
    )


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler's own per-run lines would repeat ours (scheduler.recording).
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def serve(
    ctx: typer.Context,
    metrics_host: Annotated[
        str | None,
        typer.Option(
            "--metrics-host", help="Address of /metrics (default from settings: 127.0.0.1)."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Port of /metrics (default: 9464; 0: any free).",
        ),
    ] = None,
    once: Annotated[
        list[str] | None,
        typer.Option(
            "--once",
            metavar="JOB",
            help="Run this job once now (repeatable), with its retries, then exit; no scheduler.",
        ),
    ] = None,
) -> None:
    """Run the scheduler and /metrics until SIGTERM or Ctrl-C (one leader among serve processes)."""
    from scheduler import runner
    from scheduler.registry import lookup
    from scheduler.service import Service

    obj: AppContext = ctx.obj
    context = _runner_context(obj)
    if once:
        for job_id in once:
            with as_options({"job": "--once"}):
                lookup(context.registry, job_id)  # every name checked before anything runs
        _configure_logging()
        failed = False
        for job_id in once:
            outcome = runner.run(context, job_id, worker=f"{context.worker}/once")
            failed = failed or outcome.status != "succeeded"
        if failed:
            raise typer.Exit(1)
        return

    _configure_logging()
    service = obj.settings.service
    host = metrics_host or service.metrics_host
    port = service.metrics_port if metrics_port is None else metrics_port
    server = _start_metrics(obj, host, port)

    def stop(signum: int, _frame: Any) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        context.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log.info("serve: %s, jobs: %s", context.worker, ", ".join(context.registry))
        Service(context).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            server.shutdown()
            server.server_close()
        log.info("serve: %s stopped", context.worker)


def _start_metrics(obj: AppContext, host: str, port: int) -> Any:
    """Start /metrics; returns the HTTP server."""
    from ngc_pilot.metrics_server import start_metrics_server

    try:
        server, _thread = start_metrics_server(obj.engine, obj.tenant_policy, host, port)
    except OSError as exc:
        raise InputError(
            [
                Problem(
                    "settings",
                    "service.metrics_host/metrics_port (--metrics-host/--metrics-port)",
                    f"{host}:{port}",
                    f"cannot serve /metrics there: {exc.strerror or exc}; choose another address",
                )
            ]
        ) from exc
    address = getattr(server, "server_address", (host, port))
    log.info("/metrics on http://%s:%s/metrics", address[0], address[1])
    return server


jobs_app = typer.Typer(
    help="The service's jobs: last run, result, next run; run one now.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _job_info(obj: AppContext) -> Any:
    from scheduler.manual import SchedulerJobs

    return SchedulerJobs(obj.settings).catalogue()


@jobs_app.callback()
def jobs(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each job: its last run, result, last success and next run."""
    if ctx.invoked_subcommand is not None:
        return
    obj: AppContext = ctx.obj
    statuses = obj.services.job_statuses(_job_info(obj))
    if as_json:
        emit_json([s.as_dict() for s in statuses])
        return
    table = Table(
        "job", "schedule", "last run (UTC)", "result", "took", "last success", "next run", "error"
    )
    for s in statuses:
        last = s.last_run
        result = ""
        if last is not None:
            result = last.status if last.attempt <= 1 else f"{last.status} (attempt {last.attempt})"
        table.add_row(
            s.job_id,
            s.schedule,
            _when(last.started_at if last else None),
            result,
            f"{last.duration_seconds:.1f}s" if last and last.duration_seconds is not None else "",
            _when(s.last_success.started_at if s.last_success else None),
            _when(s.next_run) if s.scheduled else "not scheduled yet",
            (last.error or "")[:80] if last else "",
        )
    obj.out.print(table)


def _when(moment: Any) -> str:
    return moment.isoformat()[:19].replace("T", " ") if moment else ""


@jobs_app.command("run")
def jobs_run(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job id, e.g. meter (see `ngc-pilot jobs`).")],
    retries: Annotated[
        int,
        typer.Option("--retries", min=0, max=10, help="Retry a failure this often, with backoff."),
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Run one job now, recorded like a scheduled run (exit 1 if it fails)."""
    from scheduler import runner
    from scheduler.registry import lookup

    obj: AppContext = ctx.obj
    context = _runner_context(obj)
    with as_options({"job": "JOB"}):
        lookup(context.registry, job)
    outcome = runner.run(context, job, retries=retries, worker=f"{context.worker}/manual")
    obj.services.record_job_run(
        job, outcome.status, outcome.attempts, reason="run by hand (ngc-pilot jobs run)"
    )
    if as_json:
        emit_json(outcome.as_dict())
    else:
        obj.out.print(f"{job}: {outcome.status} after {outcome.attempts} attempt(s)")
        if outcome.error:
            obj.out.print(f"  error: {outcome.error}")
        elif outcome.summary:
            for key, value in outcome.summary.items():
                obj.out.print(f"  {key}: {value}")
    if outcome.status != "succeeded":
        raise typer.Exit(1)
