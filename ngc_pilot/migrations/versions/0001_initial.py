"""Initial schema: applications, audit log, selection decisions, pilots.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
)
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = (
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
)


def upgrade() -> None:
    op.create_table(
        "application",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("pi_name", sa.String(200), nullable=False),
        sa.Column("pi_email", sa.String(254), nullable=False),
        sa.Column("institution", sa.String(200), nullable=False),
        sa.Column("institution_type", sa.String(64), nullable=False),
        sa.Column("nominated_by", sa.String(200), nullable=False),
        sa.Column("data_volume_bytes", sa.BigInteger(), nullable=False),
        sa.Column("maturity", sa.Integer(), nullable=False),
        sa.Column("ready_date", sa.Date(), nullable=False),
        sa.Column("commits_to_evaluation", sa.Boolean(), nullable=False),
        sa.Column("data_processing_agreement", sa.String(32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_application_institution", "application", ["institution"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_action", "audit_event", ["action"])
    op.create_index("ix_audit_event_subject", "audit_event", ["subject"])

    op.create_table(
        "selection_decision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("policy_digest", sa.String(64), nullable=False),
        sa.Column("k_min", sa.Integer(), nullable=False),
        sa.Column("k_max", sa.Integer(), nullable=False),
        sa.Column("lock_in", sa.JSON(), nullable=False),
        sa.Column("lock_out", sa.JSON(), nullable=False),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("optimal", sa.Boolean(), nullable=False),
        sa.Column("gap", sa.Float(), nullable=True),
        sa.Column("selected", sa.JSON(), nullable=False),
        sa.Column("explanations", sa.JSON(), nullable=False),
    )

    op.create_table(
        "pilot",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("application_id", sa.String(64), sa.ForeignKey("application.id"), nullable=False),
        sa.Column(
            "decision_id", sa.Integer(), sa.ForeignKey("selection_decision.id"), nullable=False
        ),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    op.drop_table("pilot")
    op.drop_table("selection_decision")
    op.drop_index("ix_audit_event_subject", table_name="audit_event")
    op.drop_index("ix_audit_event_action", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index("ix_application_institution", table_name="application")
    op.drop_table("application")
