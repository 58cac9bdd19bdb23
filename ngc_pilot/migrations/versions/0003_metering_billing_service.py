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

# usage_total: each tenant's running sum per metric, kept by triggers on
# usage_record in the same transaction as every insert, upsert, update,
# delete (and, on PostgreSQL, truncate), so that /metrics reads a few
# thousand rows instead of summing the whole usage history on every scrape.
# PostgreSQL: one statement-level trigger per event, aggregating its transition
# table (a COPY or a batch of upserts costs one aggregate, not one per row);
# keys are upserted in order so that concurrent writers cannot deadlock.
_USAGE_TOTAL_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION usage_total_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_total;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_total (pilot_id, metric, quantity)
        SELECT pilot_id, metric, sum(quantity) FROM new_rows
        GROUP BY pilot_id, metric ORDER BY pilot_id, metric
        ON CONFLICT (pilot_id, metric)
        DO UPDATE SET quantity = usage_total.quantity + EXCLUDED.quantity;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO usage_total (pilot_id, metric, quantity)
        SELECT pilot_id, metric, sum(quantity) FROM (
            SELECT pilot_id, metric, quantity FROM new_rows
            UNION ALL
            SELECT pilot_id, metric, -quantity FROM old_rows
        ) AS change
        GROUP BY pilot_id, metric ORDER BY pilot_id, metric
        ON CONFLICT (pilot_id, metric)
        DO UPDATE SET quantity = usage_total.quantity + EXCLUDED.quantity;
    ELSE
        INSERT INTO usage_total (pilot_id, metric, quantity)
        SELECT pilot_id, metric, -sum(quantity) FROM old_rows
        GROUP BY pilot_id, metric ORDER BY pilot_id, metric
        ON CONFLICT (pilot_id, metric)
        DO UPDATE SET quantity = usage_total.quantity + EXCLUDED.quantity;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_USAGE_TOTAL_PG_TRIGGERS = (
    "CREATE TRIGGER usage_total_insert AFTER INSERT ON usage_record "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_total_apply()",
    "CREATE TRIGGER usage_total_update AFTER UPDATE ON usage_record "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_total_apply()",
    "CREATE TRIGGER usage_total_delete AFTER DELETE ON usage_record "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_total_apply()",
    "CREATE TRIGGER usage_total_truncate AFTER TRUNCATE ON usage_record "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_total_apply()",
)
# SQLite: row triggers.  Not "INSERT OR IGNORE": a trigger fired by an UPSERT
# takes the UPSERT's conflict policy (abort) instead of its own.
_USAGE_TOTAL_SQLITE_ENSURE_ROW = (
    "INSERT INTO usage_total (pilot_id, metric, quantity) "
    "SELECT NEW.pilot_id, NEW.metric, 0 WHERE NOT EXISTS (SELECT 1 FROM usage_total "
    "WHERE pilot_id = NEW.pilot_id AND metric = NEW.metric)"
)
_USAGE_TOTAL_SQLITE_TRIGGERS = (
    "CREATE TRIGGER usage_total_insert AFTER INSERT ON usage_record BEGIN "
    f"{_USAGE_TOTAL_SQLITE_ENSURE_ROW}; "
    "UPDATE usage_total SET quantity = quantity + NEW.quantity "
    "WHERE pilot_id = NEW.pilot_id AND metric = NEW.metric; END",
    "CREATE TRIGGER usage_total_update AFTER UPDATE OF pilot_id, metric, quantity ON usage_record "
    "BEGIN "
    "UPDATE usage_total SET quantity = quantity - OLD.quantity "
    "WHERE pilot_id = OLD.pilot_id AND metric = OLD.metric; "
    f"{_USAGE_TOTAL_SQLITE_ENSURE_ROW}; "
    "UPDATE usage_total SET quantity = quantity + NEW.quantity "
    "WHERE pilot_id = NEW.pilot_id AND metric = NEW.metric; END",
    "CREATE TRIGGER usage_total_delete AFTER DELETE ON usage_record BEGIN "
    "UPDATE usage_total SET quantity = quantity - OLD.quantity "
    "WHERE pilot_id = OLD.pilot_id AND metric = OLD.metric; END",
)
_USAGE_TOTAL_TRIGGER_NAMES = (
    "usage_total_insert",
    "usage_total_update",
    "usage_total_delete",
    "usage_total_truncate",
)


def _create_usage_total() -> None:
    op.create_table(
        "usage_total",
        sa.Column("pilot_id", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("quantity", sa.Numeric(24, 6), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_USAGE_TOTAL_PG_FUNCTION)
        for statement in _USAGE_TOTAL_PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _USAGE_TOTAL_SQLITE_TRIGGERS:
            op.execute(statement)


def _drop_usage_total() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in _USAGE_TOTAL_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON usage_record" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS usage_total_apply()")
    op.drop_table("usage_total")


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
    _create_usage_total()
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
    _drop_usage_total()
    op.drop_index("ix_usage_record_window_start", table_name="usage_record")
    op.drop_table("usage_record")
    with op.batch_alter_table("tenant") as batch:
        batch.drop_column("data_access_granted_at")
        batch.drop_column("suspended_at")
