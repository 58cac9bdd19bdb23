"""``ngc-pilot tui``: open the operations terminal UI on the configured database.

Textual is imported only when the command runs, and the CLI imports no
service module at start-up (``ngc_pilot.lazy``), so the first screen is on
the terminal before the database is opened: the app opens it in a worker and
a database that cannot be opened becomes one readable notification.  The
policy file is read first, so a broken policy is refused like in any other
command (exit code 2) before the screen is taken over.
"""

from __future__ import annotations

import typer

from ngc_pilot.cli.context import AppContext


def tui(ctx: typer.Context) -> None:
    """Open the operations UI: applications, selection, tenants, usage, capacity, jobs, audit."""
    obj: AppContext = ctx.obj
    _ = obj.policy  # fail here, readably, before the screen is taken over
    from tui import make_app

    make_app(obj.settings).run()
