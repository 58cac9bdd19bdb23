"""Run Alembic migrations from code (``ngc-pilot db upgrade|downgrade|current``).

The Alembic config is built here, pointing at the migrations shipped inside
the package, so an installed ngc-pilot migrates without an alembic.ini.  An
unknown revision is refused as bad input naming the known ones.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from ngc_pilot.errors import InputError
from policies.problems import Problem

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _unknown_revision(config: Config, revision: str, error: CommandError) -> InputError:
    known = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]
    return InputError(
        [
            Problem(
                "migrations",
                "revision",
                revision,
                f"{str(error).splitlines()[0]}; known: base, head, {', '.join(reversed(known))}",
            )
        ]
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, revision)
        except CommandError as error:
            raise _unknown_revision(config, revision, error) from error


def downgrade(engine: Engine, revision: str = "base") -> None:
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            command.downgrade(config, revision)
        except CommandError as error:
            raise _unknown_revision(config, revision, error) from error


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(_config(engine)).get_current_head()


def is_current(engine: Engine) -> bool:
    return current(engine) == head(engine)
