"""Claims on per-tenant work, so that several ``serve`` replicas split it (issue 14 item 5).

Revision ID: 0014_work_claims
Revises: 0013_request_member
Create Date: 2026-12-05

Two tables (see ``ngc_pilot.claim_models``): ``work_cycle``, one run of a
shared job for one fire time, and ``work_claim``, its items with their
claims (owner, lease, fencing token).  Why tables of their own and not row
locks on ``tenant``: a metering item is a (shard of tenants, window) pair,
and a claim must outlive the transaction that took it (the cloud is read
with no transaction open) and survive its holder's death until the lease
ends.
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0014_work_claims"
down_revision = "0013_request_member"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_cycle",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("cycle_key", sa.String(64), nullable=False),
        sa.Column("planned_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("items_total", sa.Integer(), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("job", "cycle_key", name="uq_work_cycle_job_key"),
    )
    op.create_table(
        "work_claim",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cycle_id", sa.Integer(), sa.ForeignKey("work_cycle.id"), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.UniqueConstraint("cycle_id", "item", name="uq_work_claim_cycle_item"),
    )
    op.create_index("ix_work_claim_cycle_id", "work_claim", ["cycle_id"])
    op.create_index("ix_work_claim_open", "work_claim", ["done_at", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_work_claim_open", table_name="work_claim")
    op.drop_index("ix_work_claim_cycle_id", table_name="work_claim")
    op.drop_table("work_claim")
    op.drop_table("work_cycle")
