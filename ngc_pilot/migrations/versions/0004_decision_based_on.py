"""Selection decisions record the decision they were computed against (optimistic commit).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

``selection_decision.based_on`` is the id of the latest decision when the
proposal was computed (0 when there was none), unique: of two operators who
commit proposals computed from the same state, only the first succeeds, on
SQLite and PostgreSQL alike, however the two transactions interleave.
Existing decisions keep NULL (several NULLs never collide).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("selection_decision", sa.Column("based_on", sa.Integer(), nullable=True))
    op.create_index(
        "ix_selection_decision_based_on", "selection_decision", ["based_on"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_selection_decision_based_on", table_name="selection_decision")
    with op.batch_alter_table("selection_decision") as batch:
        batch.drop_column("based_on")
