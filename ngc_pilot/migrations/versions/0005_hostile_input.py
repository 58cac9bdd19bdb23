"""Folded application ids, unique; decisions record the decision they were computed against.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

``selection_decision.based_on`` is the id of the latest decision when the
proposal was computed (0 when there was none), unique: of two operators who
commit proposals computed from the same state, only the first succeeds, on
SQLite and PostgreSQL alike, however the two transactions interleave.
Existing decisions keep NULL (several NULLs never collide).

``application.id_key`` is the id folded as cloud project names are (NFKC,
casefold, stripped: ``policies.nomination.id_key``), unique, so two
nominations can never map to one tenant even when imported at the same
moment.  Existing rows are folded here; where stored ids already collide, the
first (by id) gets the key and the others keep NULL, to be resolved by hand
(the import refuses any new collision with them).
"""

import sqlalchemy as sa
from alembic import op

from policies.nomination import id_key

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("application", sa.Column("id_key", sa.String(64), nullable=True))
    application = sa.table(
        "application", sa.column("id", sa.String), sa.column("id_key", sa.String)
    )
    connection = op.get_bind()
    taken: set[str] = set()
    ids = sorted(app_id for (app_id,) in connection.execute(sa.select(application.c.id)))
    for app_id in ids:  # sorted here, not by the database's collation
        key = id_key(app_id)
        if key in taken:
            continue
        taken.add(key)
        connection.execute(
            application.update().where(application.c.id == app_id).values(id_key=key)
        )
    op.create_index("ix_application_id_key", "application", ["id_key"], unique=True)
    op.add_column("selection_decision", sa.Column("based_on", sa.Integer(), nullable=True))
    op.create_index(
        "ix_selection_decision_based_on", "selection_decision", ["based_on"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_selection_decision_based_on", table_name="selection_decision")
    with op.batch_alter_table("selection_decision") as batch:
        batch.drop_column("based_on")
    op.drop_index("ix_application_id_key", table_name="application")
    with op.batch_alter_table("application") as batch:
        batch.drop_column("id_key")
