"""``ngc-pilot tui``: open the operations terminal UI on the configured database.

Textual is imported only when the command runs, so every other command (and
``--help``) starts without it.  The database and the policy are opened before
the screen takes over, so a bad URL or policy is reported like in any other
command (exit code 2), not inside the UI.
"""

from __future__ import annotations

import typer

from ngc_pilot.cli.context import AppContext


def tui(ctx: typer.Context) -> None:
    """Open the operations UI: applications, selection, tenants, usage, capacity, jobs, audit."""
    obj: AppContext = ctx.obj
    _ = obj.engine, obj.policy  # fail here, readably, before the screen is taken over
    from tui import make_app

    make_app(obj).run()
