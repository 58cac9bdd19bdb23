"""Kubernetes namespace tenants beside OpenStack tenants (issue 10).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-05

One new table, ``kube_tenant`` (see ``ngc_pilot.kube_tenant_models``), keyed
by the pilot id like ``tenant``.  Why a table of its own and not a
``platform`` column in ``tenant``: a pilot with both platforms has one tenant
per platform, which with one table means a composite primary key
``(pilot_id, platform)``; every service that reads a tenant by its pilot id
(provisioning, members, lifecycle, metering, change requests, the TUI) and
every row already written would change with it.  With a second table the
``tenant`` rows keep meaning "the OpenStack tenant", nothing that reads them
changes, and the platform of a row is the table it is in (listings say it).
A namespace tenant also has none of ``tenant``'s OpenStack columns (project,
CIDR, application credential) and columns of its own (server, namespace,
token expiry).  The step ledger (``provision_step``) is shared: a step's
resource names its platform's objects.  No secret is stored.
"""

import sqlalchemy as sa
from alembic import op

from ngc_pilot.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kube_tenant",
        sa.Column("pilot_id", sa.String(64), sa.ForeignKey("pilot.id"), primary_key=True),
        sa.Column("server", sa.String(500), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("size", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("token_expires_at", UTCDateTime(), nullable=True),
        sa.Column("environment_path", sa.String(500), nullable=True),
        sa.Column("last_error", sa.String(2000), nullable=True),
        sa.Column("suspended_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kube_tenant")
