"""``ngc-pilot select``: propose, explain and commit the pilot selection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options
from ngc_pilot.errors import InputError

if TYPE_CHECKING:
    from types import ModuleType


def _fields() -> ModuleType:
    """The domain's field names (imported when a command runs: it loads the services)."""
    from ngc_pilot.facade import fields

    return fields


app = typer.Typer(
    help=(
        "Propose the certified-optimal heterogeneous selection (default), explain it, "
        "commit it with --commit --by NAME --reason TEXT."
    ),
    invoke_without_command=True,
)

MinOpt = Annotated[
    int | None,
    typer.Option("--min", min=1, max=1000, help="Fewest pilots (default: policy k_min)."),
]
MaxOpt = Annotated[
    int | None,
    typer.Option("--max", min=1, max=1000, help="Most pilots (default: policy k_max)."),
]
LockIn = Annotated[
    list[str] | None, typer.Option("--lock-in", help="Always select this id (repeatable).")
]
LockOut = Annotated[
    list[str] | None, typer.Option("--lock-out", help="Never select this id (repeatable).")
]


def _options() -> dict[str, str]:
    """The selection's and the decision's fields, as this command's options."""
    fields = _fields()
    return {
        fields.LOCK_IN: "--lock-in",
        fields.LOCK_OUT: "--lock-out",
        fields.LOCK_BOTH: "--lock-in/--lock-out",
        fields.MINIMUM: "--min",
        fields.MAXIMUM: "--max",
        fields.DECIDED_BY: "--by",
        fields.REASON: "--reason",
    }


@app.callback()
def propose(
    ctx: typer.Context,
    k_min: MinOpt = None,
    k_max: MaxOpt = None,
    lock_in: LockIn = None,
    lock_out: LockOut = None,
    commit: Annotated[
        bool, typer.Option("--commit", help="Record this selection as the decision.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who decides (required with --commit).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required with --commit).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose a selection (and with --commit, record it)."""
    if ctx.invoked_subcommand is not None:
        return
    obj: AppContext = ctx.obj
    options = _fields().SelectOptions(k_min, k_max, tuple(lock_in or ()), tuple(lock_out or ()))
    if commit and (not by or not reason):
        missing = [flag for flag, value in (("--by", by), ("--reason", reason)) if not value]
        raise InputError(f"--commit needs {' and '.join(missing)}: who decides and why")
    with as_options(_options):
        feasible, data = obj.services.select(
            options, commit=commit, by=by or "", reason=reason or ""
        )
    if as_json:
        emit_json(data)
    else:
        _print(obj, data)
    if not feasible:
        raise typer.Exit(3)


def _print(obj: AppContext, data: dict[str, Any]) -> None:
    out = obj.out
    if data["status"] == "infeasible":
        out.print("No feasible selection.", style="bold red")
        for reason in data["infeasibility"]:
            out.print(f"  - {reason}")
        return
    certificate = (
        "certified optimal (gap 0)"
        if data["optimal"]
        else f"NOT proven optimal: {data['status']}, gap {data['gap']}"
    )
    out.print(
        Text(f"Selection of {len(data['selected'])}", style="bold"),
        f"({data['k_min']}..{data['k_max']}) — "
        f"objective {data['objective']:.2f}, {certificate}, "
        f"{data['candidates']} eligible candidates, solved in {data['solve_seconds'] * 1000:.0f} ms",
    )
    table = Table(
        "id",
        "name",
        "institution",
        "score",
        "coverage",
        "share",
        "only it covers",
        "loss w/o",
        "best swap",
        "start",
        "end",
    )
    explanations = data["explanations"]
    for s in data["selected"]:
        e = explanations.get(s["id"], {})
        swap = (
            "-" if e.get("best_swap") is None else f"{e['best_swap']} ({e['best_swap_delta']:+.2f})"
        )
        loss = e.get("replan_loss")
        table.add_row(
            s["id"],
            s["name"][:34],
            s["institution"][:24],
            f"{s['score']:.1f}",
            f"{e.get('coverage_points', 0):.1f}",
            f"{100 * e.get('share_of_score', 0):.1f}%",
            ", ".join(v.split("=", 1)[1] for v in e.get("unique_values", []))[:36] or "-",
            "-" if loss is None else f"{loss:.2f}",
            swap,
            s["planned_start"],
            s["planned_end"],
        )
    out.print(table)
    cap = data["capacity"]
    used = data["capacity_used"]
    out.print("Capacity: " + ", ".join(f"{k} {used[k]:g}/{cap[k]:g}" for k in cap))
    gaps = [
        f"{attr}={value}"
        for attr, values in data["coverage"].items()
        for value, ids in values.items()
        if not ids
    ]
    if gaps:
        out.print("Not covered by the selection: " + ", ".join(gaps))
    if data.get("decision"):
        d = data["decision"]
        out.print(
            Text("Committed", style="bold green"),
            f"as decision {d['id']} by {d['decided_by']}: {d['reason']}",
        )
    else:
        out.print(
            "Proposal only. Record it with: ngc-pilot select --commit --by NAME --reason TEXT"
        )


@app.command("why-not")
def why_not(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID")],
    k_min: MinOpt = None,
    k_max: MaxOpt = None,
    lock_in: LockIn = None,
    lock_out: LockOut = None,
    as_json: JsonFlag = False,
) -> None:
    """Explain why ID is not selected: ineligible (and why), or what forcing it in costs."""
    obj: AppContext = ctx.obj
    options = _fields().SelectOptions(
        k_min, k_max, tuple(lock_in or ()), tuple(lock_out or ()), explain=False
    )
    with as_options(_options):
        data = obj.services.why_not(app_id, options)
    if as_json:
        emit_json(data)
        return
    if data.get("selected"):
        obj.out.print(f"{app_id} is selected.")
        return
    if not data["eligible"]:
        obj.out.print(f"{app_id} is not eligible: " + "; ".join(data["reasons"]))
        return
    obj.out.print(f"{app_id} is eligible but not selected:")
    for reason in data["reasons"]:
        obj.out.print(f"  - {reason}")
    for reason in data.get("infeasibility", []):
        obj.out.print(f"  - {reason}")


@app.command("pilots")
def pilots(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the committed pilots with their planned dates."""
    obj: AppContext = ctx.obj
    rows = obj.services.pilot_rows()
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "state", "decision", "planned start", "planned end")
    for r in rows:
        table.add_row(r["id"], r["state"], str(r["decision"]), r["planned_start"], r["planned_end"])
    obj.out.print(table)


@app.command("decisions")
def decisions(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the recorded selection decisions."""
    obj: AppContext = ctx.obj
    rows = obj.services.decision_rows()
    if as_json:
        emit_json(rows)
        return
    table = Table("#", "when (UTC)", "by", "reason", "selected", "objective", "optimal")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["decided_at"][:19],
            r["decided_by"],
            r["reason"][:40],
            ", ".join(r["selected"]),
            f"{r['objective']:.2f}",
            "yes" if r["optimal"] else "no",
        )
    obj.out.print(table)
