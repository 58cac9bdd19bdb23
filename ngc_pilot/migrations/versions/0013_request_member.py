"""Members' own Kubernetes tokens and who an add-member request is for (issues 10 and 11).

Revision ID: 0013_request_member
Revises: 0012
Create Date: 2026-12-05

* ``member.kube_token_expires_at``: when the member's own service-account
  token (in their bundle's kubeconfig) expires — the expiry only, never the
  token, as ``kube_tenant.token_expires_at`` for the PI's;
* ``change_request.member_name``, ``member_role``, ``member_language``: an
  ``add_member`` request names the member as ``members add`` does, and
  approval adds them so.  Existing requests keep NULL (a member, Danish).
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0013_request_member"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("kube_token_expires_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("change_request") as batch:
        batch.add_column(sa.Column("member_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("member_role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("member_language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.drop_column("member_language")
        batch.drop_column("member_role")
        batch.drop_column("member_name")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("kube_token_expires_at")
