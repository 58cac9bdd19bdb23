"""``ngc-pilot provision | tenants | teardown | env``: tenant clouds for the pilots."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import CloudOpt, CloudsFile, JsonFlag, as_options, with_cloud

PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        metavar="openstack|kubernetes",
        help="Only this platform (default: the tenancy policy's, from the pilot's task types).",
    ),
]


def provision(
    ctx: typer.Context,
    pilots: Annotated[
        list[str] | None, typer.Argument(help="Pilot ids (default: every selected pilot).")
    ] = None,
    plan_only: Annotated[
        bool, typer.Option("--plan", help="Show the changes; change nothing.")
    ] = False,
    parallel: Annotated[
        int | None, typer.Option("--parallel", min=1, max=32, help="Tenants at once.")
    ] = None,
    allow_overcommit: Annotated[
        bool, typer.Option("--allow-overcommit", help="Provision even if quotas exceed capacity.")
    ] = False,
    platform: PlatformOpt = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or converge each pilot's isolated tenant on each of its platforms (idempotent, resumable)."""
    obj = with_cloud(ctx, cloud, clouds_file)
    services = obj.services
    if plan_only:
        outcomes = services.plan_tenants(pilots or (), platform=platform)
        if as_json:
            emit_json([o.as_dict() for o in outcomes])
            return
        for o in outcomes:
            obj.out.print(
                Text.assemble(
                    (o.pilot_id, "bold"), f" {o.platform} ({o.state}): {len(o.plan)} change(s)"
                )
            )
            for c in o.plan:
                obj.out.print(
                    f"  {'+' if c['action'] == 'create' else '~' if c['action'] == 'update' else '-'} {c['resource']} {c['name']} {c['detail'] or ''}"
                )
        return
    workers = parallel or obj.settings.provisioning.parallel
    if as_json:
        outcomes = services.provision_tenants(
            pilots or (),
            parallel=workers,
            allow_overcommit=allow_overcommit,
            platform=platform,
        )
    else:
        with Progress(
            TextColumn("{task.fields[pilot]:<14}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=obj.err,
        ) as bar:
            tasks: dict[str, int] = {}

            def progress(pilot: str, step: str, index: int, total: int) -> None:
                if pilot not in tasks:
                    tasks[pilot] = bar.add_task(step, total=total, pilot=pilot)
                bar.update(tasks[pilot], completed=index, total=total, description=step[:60])

            outcomes = services.provision_tenants(
                pilots or (),
                parallel=workers,
                allow_overcommit=allow_overcommit,
                progress=progress,
                platform=platform,
            )
    failed = [o for o in outcomes if o.state not in ("active", "suspended")]
    waiting: list[str] = []
    if not pilots:
        waiting = services.waiting_for_agreement()
    if as_json:
        emit_json({"tenants": [o.as_dict() for o in outcomes], "waiting_for_agreement": waiting})
    else:
        table = Table(
            "pilot", "platform", "state", "changes applied", "seconds", "environment", "error"
        )
        for o in outcomes:
            table.add_row(
                o.pilot_id,
                o.platform,
                o.state,
                str(len(o.report.done) if o.report else 0),
                f"{o.seconds:.1f}",
                o.environment or "",
                (o.report.error if o.report and o.report.error else "") or "",
            )
        obj.out.print(table)
        if waiting:
            obj.out.print(
                "Waiting for a signed data processing agreement (no tenant yet): "
                + ", ".join(waiting)
            )
    for o in failed:  # named on stderr too, so a JSON reader's log says which tenant failed
        error = o.report.error if o.report and o.report.error else "not converged"
        obj.err.print(f"error: tenant {o.pilot_id} failed: {error}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


tenants_app = typer.Typer(
    help="Tenant clouds: list, show, verify isolation.", invoke_without_command=True
)


@tenants_app.callback()
def tenants(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every pilot tenant and its state."""
    if ctx.invoked_subcommand is not None:
        return
    obj: AppContext = ctx.obj
    rows = obj.services.tenant_rows()
    if as_json:
        emit_json(rows)
        return
    table = Table(
        "pilot", "platform", "state", "size", "project", "cidr", "start", "end", "environment"
    )
    for r in rows:
        table.add_row(
            r["pilot"],
            r["platform"],
            r["state"],
            r["size"],
            r["project"],
            r["cidr"],
            r["planned_start"],
            r["planned_end"],
            r["environment"] or "",
        )
    obj.out.print(table)


@tenants_app.command("show")
def tenants_show(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(metavar="PILOT")],
    as_json: JsonFlag = False,
) -> None:
    """One tenant: quotas, network, state, and the step ledger."""
    obj: AppContext = ctx.obj
    row = obj.services.tenant_facts(pilot)
    if as_json:
        emit_json(row)
        return
    for key in (
        "pilot",
        "state",
        "size",
        "cloud",
        "project",
        "project_id",
        "cidr",
        "planned_start",
        "planned_end",
        "environment",
        "last_error",
    ):
        obj.out.print(f"{key:>14}: {row[key]}")
    obj.out.print("        quotas: " + ", ".join(f"{k}={v}" for k, v in row["quotas"].items()))
    table = Table("run", "step", "status", "resource id", "at (UTC)")
    for s in row["steps"]:
        table.add_row(s["run"], s["step"], s["status"], s["resource_id"] or "", s["at"][:19])
    obj.out.print(table)


@tenants_app.command("verify")
def tenants_verify(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="One row per probe instead of per tenant pair.")
    ] = False,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """With each tenant's own credential, probe every other tenant; exit 1 on any leak."""
    obj = with_cloud(ctx, cloud, clouds_file)
    probes = obj.services.isolation_probes()
    leaks = [p for p in probes if p.leaked]
    if as_json:
        emit_json({"isolated": not leaks, "probes": [p.__dict__ for p in probes]})
    else:
        table = Table("from", "target", "probes", "result", "detail")
        pairs: dict[tuple[str, str], list] = {}
        for p in probes:
            pairs.setdefault((p.from_pilot, p.target), []).append(p)
        for (source, target), group in sorted(pairs.items()):
            leaked = [p for p in group if p.leaked]
            if leaked or show_all:
                for p in group if show_all else leaked:
                    table.add_row(
                        source,
                        target,
                        p.what,
                        Text("LEAK", style="red") if p.leaked else "isolated",
                        p.detail,
                    )
            else:
                refused = sorted({p.detail for p in group})
                table.add_row(source, target, str(len(group)), "isolated", ", ".join(refused))
        obj.out.print(table)
        obj.out.print(f"{len(probes)} probe(s), {len(leaks)} leak(s)")
    if leaks or not probes:
        raise typer.Exit(1)


def teardown(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(metavar="PILOT")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit log.")] = None,
    platform: PlatformOpt = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove everything of PILOT's tenant (on --platform, or on every platform it has), then prove nothing of it remains."""
    obj = with_cloud(ctx, cloud, clouds_file)
    if not yes:
        typer.confirm(
            f"Tear down the tenant of {pilot}, including the researchers' servers and volumes?",
            abort=True,
        )
    outcomes = obj.services.tear_down_platforms(pilot, platform=platform, reason=reason)
    results = [o.as_dict() for o in outcomes]
    if as_json:
        # One platform: the outcome itself (as before); several: a list.
        emit_json(results[0] if len(results) == 1 else results)
    else:
        for data in results:
            obj.out.print(
                f"{pilot} ({data['platform']}): removed {len(data['removed'])} resource(s); "
                + ("clean" if data["clean"] else f"NOT clean: {data['error'] or data['leftovers']}")
            )
    if not all(data["clean"] for data in results):
        raise typer.Exit(1)


def env(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(metavar="PILOT")],
    as_json: JsonFlag = False,
) -> None:
    """Where PILOT's researcher environment is and what it holds (secret masked)."""
    obj: AppContext = ctx.obj
    with as_options({"pilot": "pilot"}):  # the argument, worded as before
        info = obj.services.environment(pilot)
    if as_json:
        emit_json(info)
        return
    if not info["exists"]:
        obj.out.print(f"{pilot}: no environment at {info['path']} (provision the pilot first)")
        raise typer.Exit(1)
    obj.out.print(f"{pilot}: {info['path']} (mode {info['mode']})")
    for name, meta in info["files"].items():
        obj.out.print(f"  {name:<18} {meta['mode']}  {meta['bytes']} bytes")
    if info["credential"]:
        obj.out.print(
            f"  application credential {info['credential']['id']} (secret {info['credential']['secret']})"
        )
