"""Change requests: extend, resize, add a member, data access.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(254), nullable=False),
        sa.Column("justification", sa.String(2000), nullable=False),
        sa.Column("filed_by", sa.String(200), nullable=False),
        sa.Column("filed_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
    )
    op.create_index("ix_change_request_pilot_id", "change_request", ["pilot_id"])
    op.create_index("ix_change_request_status", "change_request", ["status"])


def downgrade() -> None:
    op.drop_index("ix_change_request_status", table_name="change_request")
    op.drop_index("ix_change_request_pilot_id", table_name="change_request")
    op.drop_table("change_request")
