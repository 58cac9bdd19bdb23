"""Alembic environment: runs migrations on the connection ngc-pilot hands over.

``ngc_pilot.migrate`` builds the Alembic config in code and passes an open
connection in ``config.attributes["connection"]``; there is no alembic.ini
and no URL is read from the environment here.
"""

from alembic import context
from sqlmodel import SQLModel

import ngc_pilot.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `ngc-pilot db upgrade`")
run_migrations_online()
