"""``ngc-pilot intake``: take in nominations and look at them with their scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag
from ngc_pilot.errors import InputError
from policies.nomination import nomination_json_schema
from policies.units import format_size

if TYPE_CHECKING:
    from ngc_pilot.facade import Assessed


app = typer.Typer(help="Nominations: import, validate, list, show, schema.", no_args_is_help=True)

Files = Annotated[list[Path], typer.Argument(help="YAML, JSON or CSV files.", dir_okay=False)]


@app.command("import")
def import_(ctx: typer.Context, files: Files, as_json: JsonFlag = False) -> None:
    """Validate FILES and store their nominations; any problem refuses all (exit code 2)."""
    obj: AppContext = ctx.obj
    report = obj.services.import_files(files)
    if as_json:
        emit_json(report.as_dict())
        return
    obj.out.print(
        f"imported {len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged nomination(s)"
    )


@app.command()
def validate(ctx: typer.Context, files: Files, as_json: JsonFlag = False) -> None:
    """Check FILES without storing anything; exit code 2 lists every problem."""
    obj: AppContext = ctx.obj
    good, problems = obj.services.validate_files(files)
    if as_json:
        emit_json(
            {"valid": [g.nomination.id for g in good], "problems": [p.as_dict() for p in problems]}
        )
        if problems:
            raise typer.Exit(2)
        return
    if problems:
        raise InputError(problems)
    obj.out.print(f"ok: {len(good)} valid nomination(s)")


def _row(a: Assessed) -> dict[str, Any]:
    n = a.nomination
    return {
        "id": a.id,
        "name": n.name,
        "institution": n.institution,
        "institution_type": n.institution_type,
        "nominated_by": n.nominated_by,
        "eligible": a.eligibility.eligible,
        "ineligible_reasons": list(a.eligibility.reasons),
        "score": a.score.total,
        "score_breakdown": a.score.as_dict()["criteria"],
        "maturity": n.maturity,
        "ready_date": n.ready_date.isoformat(),
        "data_volume": n.data.volume,
        "data_volume_bytes": n.data.volume_bytes,
        "data_types": n.data.types,
        "data_sources": n.data.sources,
        "task_types": n.task_types,
        "resources": n.resources.model_dump(),
        "revision": a.application.revision,
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    eligible_only: Annotated[
        bool, typer.Option("--eligible", help="Only eligible nominations.")
    ] = False,
    sort: Annotated[str, typer.Option(help="Sort by: score, id, ready.")] = "score",
    as_json: JsonFlag = False,
) -> None:
    """List nominations with eligibility and score (per criterion)."""
    obj: AppContext = ctx.obj
    if sort not in ("score", "id", "ready"):
        raise InputError(f"--sort {sort!r}: allowed are score, id, ready")
    assessed = obj.services.assessed()
    rows = [_row(a) for a in assessed if a.eligibility.eligible or not eligible_only]
    key = {
        "score": lambda r: (not r["eligible"], -r["score"], r["id"]),
        "id": lambda r: r["id"],
        "ready": lambda r: (r["ready_date"], r["id"]),
    }[sort]
    rows.sort(key=key)
    if as_json:
        emit_json(rows)
        return
    criteria = list(obj.policy.scoring.weights.model_dump())
    table = Table("id", "name", "institution", "eligible", "score", *criteria, "data", "ready")
    for r in rows:
        table.add_row(
            r["id"],
            r["name"][:40],
            r["institution"][:28],
            "yes" if r["eligible"] else "no: " + "; ".join(r["ineligible_reasons"])[:40],
            f"{r['score']:.1f}",
            *(f"{r['score_breakdown'][c]['points']:.1f}" for c in criteria),
            f"{format_size(r['data_volume_bytes'])} {','.join(r['data_types'])}"[:30],
            r["ready_date"],
        )
    obj.out.print(table)
    obj.out.print(f"{len(rows)} nomination(s); {sum(r['eligible'] for r in rows)} eligible")


@app.command()
def show(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonFlag = False,
) -> None:
    """Show one nomination with its eligibility and score breakdown."""
    obj: AppContext = ctx.obj
    a = obj.services.assessed_one(app_id)
    data = {
        **_row(a),
        "nomination": a.nomination.model_dump(mode="json"),
        "source": a.application.source,
        "created_at": a.application.created_at.isoformat(),
        "updated_at": a.application.updated_at.isoformat(),
    }
    if as_json:
        emit_json(data)
        return
    n = a.nomination
    out = obj.out
    out.print(Text(n.id, style="bold"), n.name, sep="  ")
    out.print(f"PI: {n.principal_investigator.name} <{n.principal_investigator.email}>")
    out.print(f"Institution: {n.institution} ({n.institution_type}), nominated by {n.nominated_by}")
    out.print(
        f"Data: {n.data.volume}, types {', '.join(n.data.types)}; sources {', '.join(n.data.sources)}; {n.data.subjects} subjects"
    )
    r = n.resources
    out.print(
        f"Resources: {r.vcpus} vCPU, {r.ram_gb} GB RAM, {r.gpus} GPU, {r.storage_tb:g} TB; tasks {', '.join(n.task_types)}"
    )
    out.print(
        f"Access: {n.access_months} months from {n.ready_date}; maturity {n.maturity}; commits to evaluation: {'yes' if n.commits_to_evaluation else 'no'}"
    )
    out.print(
        f"Eligible: {'yes' if a.eligibility.eligible else 'no — ' + '; '.join(a.eligibility.reasons)}"
    )
    table = Table("criterion", "points", "weight", "detail", title=f"Score {a.score.total:.2f}")
    for c in a.score.criteria:
        table.add_row(c.name, f"{c.points:.2f}", f"{c.weight:g}", c.detail)
    out.print(table)
    out.print(f"Pitch: {n.pitch}")


@app.command()
def schema(ctx: typer.Context) -> None:
    """Print the JSON Schema of a nominations file (allowed values from the policy)."""
    obj: AppContext = ctx.obj
    emit_json(nomination_json_schema(obj.policy.vocabularies))
