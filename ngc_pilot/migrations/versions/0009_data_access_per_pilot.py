"""Data access per pilot: the day each pilot's tenant may get the data-access role.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-05

``pilot.data_access_date`` is the day (UTC) from which the pilot's tenant is
granted the data-access role; NULL means the lifecycle policy's
``data_access.date``, so every existing pilot keeps exactly the behaviour it
had.  Set by ``ngc-pilot tenants data-access-date``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pilot") as batch:
        batch.add_column(sa.Column("data_access_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pilot") as batch:
        batch.drop_column("data_access_date")
