"""``ngc-pilot db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options
from ngc_pilot.lazy import lazy_module

migrate = lazy_module("ngc_pilot.migrate")
db = lazy_module("ngc_pilot.db")

app = typer.Typer(
    help="Database schema: upgrade, downgrade, show the revision.", no_args_is_help=True
)


def _engine(ctx: typer.Context):  # type: ignore[no-untyped-def]
    obj: AppContext = ctx.obj
    return db.make_engine(obj.settings.database_url)


@app.command()
def upgrade(
    ctx: typer.Context, revision: Annotated[str, typer.Argument(help="Target revision.")] = "head"
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    engine = _engine(ctx)
    with as_options({"revision": "revision"}):
        migrate.upgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current(engine)}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision ('base' removes every table).")],
) -> None:
    """Revert migrations down to REVISION."""
    engine = _engine(ctx)
    with as_options({"revision": "revision"}):
        migrate.downgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current(engine) or 'base'}")


@app.command()
def current(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Show the database's revision and the newest one this ngc-pilot knows."""
    engine = _engine(ctx)
    data = {"current": migrate.current(engine), "head": migrate.head(engine)}
    if as_json:
        emit_json(data)
    else:
        typer.echo(f"current: {data['current'] or 'base'}  head: {data['head']}")
