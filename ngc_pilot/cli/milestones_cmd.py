"""``ngc-pilot milestones``: record the onboarding milestones evidenced so far, then list them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag


def milestones(
    ctx: typer.Context,
    pilot: Annotated[str | None, typer.Option("--pilot", help="Only this pilot.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Onboarding milestones per pilot: tenant active, first server, first use, data access.

    New evidence in the database (audit log, usage, tenant rows) is recorded
    first, once per milestone with the time it first happened (audited).
    """
    obj: AppContext = ctx.obj
    rows = obj.services.milestones(pilot)
    if as_json:
        emit_json(rows)
        return
    table = Table("pilot", "milestone", "reached", "evidence")
    for r in rows:
        table.add_row(r["pilot"], r["kind"], r["reached_at"][:16], r["evidence"])
    obj.out.print(table)
    obj.out.print(f"{len(rows)} milestone(s)")
