"""change_stamp: what ``/metrics`` checks on SQLite instead of fingerprinting rows.

Revision ID: 0015_change_stamps
Revises: 0014_work_claims
Create Date: 2026-12-06

One row per input of a cached ``/metrics`` block (``ngc_pilot.change_stamp_models``),
seeded with 0 on both databases.  On SQLite only, AFTER INSERT / UPDATE /
DELETE row triggers on the tables each block is read from add 1 to its stamp
in the writing transaction, so a scrape compares a handful of integers
instead of concatenating some 100,000 rows.  PostgreSQL gets no triggers: its
fingerprints use row versions (``xmin``) and cost nothing at write time.

``usage_record`` is the one table written in bulk (a metering window is
50,000 rows at 10,000 tenants), so its INSERT trigger fires only when the new
row's id is not the table's highest: an ordinary insert appends and leaves
the stamp alone, and the scrape reads ``max(usage_record.id)`` beside the
stamps (one index probe); a row inserted below the highest id (an explicit
id, a reused one) still bumps it.  ``usage_total`` and ``usage_day`` have no
triggers of their own: only ``usage_record``'s triggers write them (0003,
0011), so a stamp on ``usage_record`` covers them without a bump for each of
the two extra writes per record.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_change_stamps"
down_revision = "0014_work_claims"
branch_labels = None
depends_on = None

# Frozen here (the model module's STAMPED_TABLES may grow in later revisions).
_STAMPED = {
    "tenants": ("tenant", "kube_tenant", "pilot"),
    "usage": ("usage_record",),
    "invoices": ("invoice",),
    "steps": ("provision_step",),
    "capacity": ("capacity_snapshot",),
    "jobs": ("job_run",),
    "areas": ("evaluation_answer", "support_item"),
    "requests": ("change_request",),
    "outbox": ("outbox_message",),
}
_EVENTS = ("insert", "update", "delete")


def _trigger_name(table: str, event: str) -> str:
    return f"change_stamp_{table}_{event}"


def _when(table: str, event: str) -> str:
    if table == "usage_record" and event == "insert":
        return "WHEN NEW.id IS NOT (SELECT max(id) FROM usage_record) "
    return ""


def triggers() -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER statement) for every stamped table and event (SQLite)."""
    return [
        (
            _trigger_name(table, event),
            f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event.upper()} ON {table} "
            f"{_when(table, event)}BEGIN UPDATE change_stamp SET stamp = stamp + 1 "
            f"WHERE name = '{name}'; END",
        )
        for name, tables in _STAMPED.items()
        for table in tables
        for event in _EVENTS
    ]


def upgrade() -> None:
    table = op.create_table(
        "change_stamp",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"name": name, "stamp": 0} for name in _STAMPED])
    if op.get_bind().dialect.name == "sqlite":
        for _, statement in triggers():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, _ in triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("change_stamp")
