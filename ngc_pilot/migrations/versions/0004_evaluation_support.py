"""Evaluation responses, the support log and onboarding milestones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_response",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("respondent", sa.String(200), nullable=False),
        sa.Column("questionnaire_version", sa.Integer(), nullable=False),
        sa.Column("questionnaire_digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "pilot_id", "respondent", "questionnaire_version", name="uq_evaluation_response_key"
        ),
    )
    op.create_index("ix_evaluation_response_pilot_id", "evaluation_response", ["pilot_id"])
    op.create_table(
        "evaluation_answer",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "response_id", sa.Integer(), sa.ForeignKey("evaluation_response.id"), nullable=False
        ),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("area", sa.String(32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(4000), nullable=True),
        sa.UniqueConstraint("response_id", "question_id", name="uq_evaluation_answer_key"),
    )
    op.create_index("ix_evaluation_answer_response_id", "evaluation_answer", ["response_id"])
    op.create_table(
        "support_item",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("area", sa.String(32), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("responded_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.String(2000), nullable=True),
    )
    op.create_index("ix_support_item_pilot_id", "support_item", ["pilot_id"])
    op.create_index("ix_support_item_opened_at", "support_item", ["opened_at"])
    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.Column("evidence", sa.String(300), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("pilot_id", "kind", name="uq_milestone_key"),
    )


def downgrade() -> None:
    op.drop_table("milestone")
    op.drop_index("ix_support_item_opened_at", table_name="support_item")
    op.drop_index("ix_support_item_pilot_id", table_name="support_item")
    op.drop_table("support_item")
    op.drop_index("ix_evaluation_answer_response_id", table_name="evaluation_answer")
    op.drop_table("evaluation_answer")
    op.drop_index("ix_evaluation_response_pilot_id", table_name="evaluation_response")
    op.drop_table("evaluation_response")
