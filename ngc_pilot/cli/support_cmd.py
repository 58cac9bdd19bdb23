"""``ngc-pilot support``: the support log — open, respond, close, list, stats."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag

app = typer.Typer(
    help="The support log: open, respond, close, list, stats per area.", no_args_is_help=True
)

At = Annotated[
    str | None,
    typer.Option("--at", help="When (ISO 8601 with a zone, e.g. 2021-05-10T09:00Z; default now)."),
]
ItemId = Annotated[int, typer.Argument(metavar="ID", help="The support item's id.")]


@app.command("open")
def open_(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(metavar="PILOT")],
    area: Annotated[str, typer.Option("--area", help="One of the five evaluation areas.")],
    summary: Annotated[str, typer.Option("--summary", help="What the pilot asked for.")],
    opened_at: Annotated[
        str | None, typer.Option("--opened-at", help="When it came in (ISO 8601 with a zone).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a support item for PILOT in AREA."""
    obj: AppContext = ctx.obj
    data = obj.services.open_support_item(pilot, area, summary, opened_at=opened_at)
    if as_json:
        emit_json(data)
        return
    obj.out.print(f"opened support item {data['id']} for {pilot} ({area})")


@app.command()
def respond(ctx: typer.Context, item_id: ItemId, at: At = None) -> None:
    """Record the first response to item ID."""
    obj: AppContext = ctx.obj
    data = obj.services.respond_support_item(item_id, at=at)
    obj.out.print(f"support item {item_id}: first response after {data['response_hours']} h")


@app.command()
def close(
    ctx: typer.Context,
    item_id: ItemId,
    resolution: Annotated[str, typer.Option("--resolution", help="How it was resolved.")],
    at: At = None,
) -> None:
    """Close item ID with its resolution."""
    obj: AppContext = ctx.obj
    data = obj.services.close_support_item(item_id, resolution, at=at)
    obj.out.print(f"support item {item_id}: closed after {data['resolution_hours']} h")


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only items not closed.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List support items, oldest first."""
    obj: AppContext = ctx.obj
    rows = obj.services.support_items(open_only=open_only)
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "pilot", "area", "state", "opened", "response h", "resolution h", "summary")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["pilot"],
            r["area"],
            r["state"],
            r["opened_at"][:16],
            str(r["response_hours"] or "-"),
            str(r["resolution_hours"] or "-"),
            r["summary"][:50],
        )
    obj.out.print(table)
    obj.out.print(f"{len(rows)} item(s)")


@app.command()
def stats(
    ctx: typer.Context,
    month: Annotated[
        str | None, typer.Option("--month", help="Items opened in YYYY-MM (default: all).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per area: count, median and mean response and resolution times (hours)."""
    obj: AppContext = ctx.obj
    data = obj.services.support_stats(month)
    if as_json:
        emit_json(data)
        return

    def h(value: Any) -> str:
        return "-" if value is None else str(value)

    table = Table(
        "area",
        "opened",
        "open",
        "response median h",
        "response mean h",
        "resolution median h",
        "resolution mean h",
        title=f"Support, {data['month'] or 'all time'}",
    )
    for a in data["areas"]:
        table.add_row(
            a["area"],
            str(a["opened"]),
            str(a["open"]),
            h(a["response"]["median_hours"]),
            h(a["response"]["mean_hours"]),
            h(a["resolution"]["median_hours"]),
            h(a["resolution"]["mean_hours"]),
        )
    obj.out.print(table)
