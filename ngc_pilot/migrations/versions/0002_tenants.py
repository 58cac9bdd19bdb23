"""Tenants and the provisioning step ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), primary_key=True),
        sa.Column("cloud", sa.String(100), nullable=False),
        sa.Column("size", sa.String(32), nullable=False),
        sa.Column("project_name", sa.String(200), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("cidr", sa.String(43), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("credential_id", sa.String(64), nullable=True),
        sa.Column("environment_path", sa.String(500), nullable=True),
        sa.Column("last_error", sa.String(2000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "provision_step",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step", sa.String(300), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_provision_step_pilot_id", "provision_step", ["pilot_id"])


def downgrade() -> None:
    op.drop_index("ix_provision_step_pilot_id", table_name="provision_step")
    op.drop_table("provision_step")
    op.drop_table("tenant")
