"""``ngc-pilot db``: schema migrations.

These commands go around the service facade on purpose: they work on a
database whose schema is behind or ahead of this ngc-pilot, which the
application context refuses to open.  The migration modules are imported
when a command runs (``--help`` loads no SQLAlchemy or Alembic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options

if TYPE_CHECKING:
    from types import ModuleType

app = typer.Typer(
    help="Database schema: upgrade, downgrade, show the revision.", no_args_is_help=True
)


def _engine(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from ngc_pilot.db import make_engine

    obj: AppContext = ctx.obj
    return make_engine(obj.settings.database_url)


def _migrate() -> ModuleType:
    from ngc_pilot import migrate

    return migrate


@app.command()
def upgrade(
    ctx: typer.Context, revision: Annotated[str, typer.Argument(help="Target revision.")] = "head"
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    engine, migrate = _engine(ctx), _migrate()
    with as_options({"revision": "revision"}):
        migrate.upgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current(engine)}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision ('base' removes every table).")],
) -> None:
    """Revert migrations down to REVISION."""
    engine, migrate = _engine(ctx), _migrate()
    with as_options({"revision": "revision"}):
        migrate.downgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current(engine) or 'base'}")


@app.command()
def current(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Show the database's revision and the newest one this ngc-pilot knows."""
    engine, migrate = _engine(ctx), _migrate()
    data = {"current": migrate.current(engine), "head": migrate.head(engine)}
    if as_json:
        emit_json(data)
    else:
        typer.echo(f"current: {data['current'] or 'base'}  head: {data['head']}")
