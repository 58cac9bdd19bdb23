"""The outbox becomes a mail queue: delivery state, language, attachments, mail about no pilot.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

``outbox_message`` gains what the SMTP sender needs to send each message at
most once (``status``, ``attempts``, ``next_attempt_at``, ``claimed_at``,
``last_error``, ``message_id``), the recipient's ``language`` and the
``attachments`` (stored with the row); ``pilot_id`` becomes optional, for
mail to the steering group.  Rows recorded before this revision are
``queued`` (nothing sent them) unless they carry a ``sent_at``.
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.alter_column("pilot_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="da"))
        batch.add_column(sa.Column("attachments", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="queued")
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(500), nullable=True))
        batch.add_column(sa.Column("message_id", sa.String(300), nullable=True))
    outbox = sa.table(
        "outbox_message", sa.column("status", sa.String), sa.column("sent_at", UTCDateTime())
    )
    op.get_bind().execute(
        outbox.update().where(outbox.c.sent_at.is_not(None)).values(status="sent")
    )
    op.create_index(
        "ix_outbox_message_status_next", "outbox_message", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_message_status_next", table_name="outbox_message")
    op.execute("DELETE FROM outbox_message WHERE pilot_id IS NULL")
    with op.batch_alter_table("outbox_message") as batch:
        for name in (
            "message_id",
            "last_error",
            "claimed_at",
            "next_attempt_at",
            "attempts",
            "status",
            "attachments",
            "language",
        ):
            batch.drop_column(name)
        batch.alter_column("pilot_id", existing_type=sa.String(64), nullable=False)
