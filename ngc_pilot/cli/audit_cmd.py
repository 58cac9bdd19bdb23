"""``ngc-pilot audit``: read the append-only audit log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag


def audit(
    ctx: typer.Context,
    action: Annotated[
        str | None, typer.Option(help="Only actions starting with this, e.g. 'pilot.'.")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only this subject, e.g. an application id.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the newest N entries.", min=1)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show who changed what, when, and why."""
    obj: AppContext = ctx.obj
    rows = obj.services.audit_events(action=action, subject=subject, limit=limit)
    if as_json:
        emit_json(rows)
        return
    table = Table("#", "when (UTC)", "actor", "action", "subject", "reason")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["at"][:19].replace("T", " "),
            row["actor"],
            row["action"],
            row["subject"],
            row["reason"] or "",
        )
    obj.out.print(table)
