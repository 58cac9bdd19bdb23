"""Metering, shadow billing and the scheduler service.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant") as batch:
        batch.add_column(sa.Column("suspended_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("data_access_granted_at", UTCDateTime(), nullable=True))
    op.create_table(
        "usage_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 6), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("collected_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("pilot_id", "metric", "window_start", name="uq_usage_record_key"),
    )
    op.create_index("ix_usage_record_window_start", "usage_record", ["window_start"])
    op.create_table(
        "meter_window",
        sa.Column("window_start", UTCDateTime(), primary_key=True),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("metered_at", UTCDateTime(), nullable=False),
        sa.Column("tenants", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("list_total", sa.Numeric(16, 2), nullable=False),
        sa.Column("discount_total", sa.Numeric(16, 2), nullable=False),
        sa.Column("charged_total", sa.Numeric(16, 2), nullable=False),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.Column("rated_at", UTCDateTime(), nullable=False),
        sa.Column("rated_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.UniqueConstraint("pilot_id", "month", "revision", name="uq_invoice_revision"),
    )
    op.create_index("ix_invoice_pilot_id", "invoice", ["pilot_id"])
    op.create_index("ix_invoice_month", "invoice", ["month"])
    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("price_version", sa.String(64), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_until", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 6), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("unit_price", sa.Numeric(16, 6), nullable=False),
        sa.Column("list_amount", sa.Numeric(16, 2), nullable=False),
        sa.Column("discount", sa.Numeric(16, 2), nullable=False),
        sa.Column("charged", sa.Numeric(16, 2), nullable=False),
    )
    op.create_index("ix_invoice_line_invoice_id", "invoice_line", ["invoice_id"])
    op.create_table(
        "capacity_snapshot",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("resource_class", sa.String(64), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("reserved", sa.Float(), nullable=False),
        sa.Column("allocation_ratio", sa.Float(), nullable=False),
        sa.Column("used", sa.Float(), nullable=False),
        sa.Column("allocated", sa.Float(), nullable=False),
    )
    op.create_index("ix_capacity_snapshot_taken_at", "capacity_snapshot", ["taken_at"])
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("scheduled_for", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("worker", sa.String(200), nullable=False),
    )
    op.create_index("ix_job_run_job_started", "job_run", ["job_id", "started_at"])
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.String(10000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_outbox_message_pilot_id", "outbox_message", ["pilot_id"])
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_outbox_message_pilot_id", table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_index("ix_job_run_job_started", table_name="job_run")
    op.drop_table("job_run")
    op.drop_index("ix_capacity_snapshot_taken_at", table_name="capacity_snapshot")
    op.drop_table("capacity_snapshot")
    op.drop_index("ix_invoice_line_invoice_id", table_name="invoice_line")
    op.drop_table("invoice_line")
    op.drop_index("ix_invoice_month", table_name="invoice")
    op.drop_index("ix_invoice_pilot_id", table_name="invoice")
    op.drop_table("invoice")
    op.drop_table("meter_window")
    op.drop_index("ix_usage_record_window_start", table_name="usage_record")
    op.drop_table("usage_record")
    with op.batch_alter_table("tenant") as batch:
        batch.drop_column("data_access_granted_at")
        batch.drop_column("suspended_at")
