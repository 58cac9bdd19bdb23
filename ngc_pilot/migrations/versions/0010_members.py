"""Members of a tenant: their own users, credentials and bundles (issue 11).

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-05

One table, ``member`` (see ``ngc_pilot.member_models``); it stores a
credential's id, never its secret.
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("age_recipient", sa.String(200), nullable=True),
        sa.Column("ssh_public_key", sa.String(4000), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("credential_id", sa.String(64), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_member_pilot_id", "member", ["pilot_id"])
    op.create_index("ix_member_email", "member", ["email"])


def downgrade() -> None:
    op.drop_index("ix_member_email", table_name="member")
    op.drop_index("ix_member_pilot_id", table_name="member")
    op.drop_table("member")
