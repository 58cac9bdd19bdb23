"""usage_month: the monthly usage rollup rating reads for a month that is one price segment.

Revision ID: 0016_usage_month
Revises: 0015_change_stamps
Create Date: 2026-12-06

Per (tenant, metric, UTC calendar month of ``window_start``, stored as the
month's first day): the sum of the usage records' quantities in micro-units
and how many records it sums — ``usage_day`` (0011) summed by month.  Rating a
month that no price or discount boundary cuts (most months) reads one row per
tenant and metric here instead of ~30 days from ``usage_day`` (1,000 rows
instead of 31,000 for 1,000 tenants; the aggregation was the largest part of
the database's work when rating).  A month cut by a boundary still reads its
segments' days.

Kept exactly like ``usage_day``, by triggers of its own on ``usage_record`` in
the writing transaction: PostgreSQL statement-level triggers over the
transition tables (keys upserted in order), SQLite row triggers; an UPDATE
subtracts the old quantity and adds the new one.  Existing usage is summed in
from ``usage_day`` by this migration.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_usage_month"
down_revision = "0015_change_stamps"
branch_labels = None
depends_on = None

_PG_MONTH = "date_trunc('month', window_start AT TIME ZONE 'UTC')::date"
_PG_MICRO = "round(quantity * 1000000)::bigint"
_PG_UPSERT = (
    "ON CONFLICT (pilot_id, metric, month) DO UPDATE SET"
    " quantity_micro = usage_month.quantity_micro + EXCLUDED.quantity_micro,"
    " records = usage_month.records + EXCLUDED.records"
)
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION usage_month_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_month;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_month (pilot_id, metric, month, quantity_micro, records)
        SELECT pilot_id, metric, {_PG_MONTH}, sum({_PG_MICRO}), count(*) FROM new_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {_PG_UPSERT};
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO usage_month (pilot_id, metric, month, quantity_micro, records)
        SELECT pilot_id, metric, month, sum(micro), sum(n) FROM (
            SELECT pilot_id, metric, {_PG_MONTH} AS month, {_PG_MICRO} AS micro, 1 AS n
            FROM new_rows
            UNION ALL
            SELECT pilot_id, metric, {_PG_MONTH}, -{_PG_MICRO}, -1 FROM old_rows
        ) AS change
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {_PG_UPSERT};
    ELSE
        INSERT INTO usage_month (pilot_id, metric, month, quantity_micro, records)
        SELECT pilot_id, metric, {_PG_MONTH}, -sum({_PG_MICRO}), -count(*) FROM old_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {_PG_UPSERT};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER usage_month_insert AFTER INSERT ON usage_record "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_month_apply()",
    "CREATE TRIGGER usage_month_update AFTER UPDATE ON usage_record "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_month_apply()",
    "CREATE TRIGGER usage_month_delete AFTER DELETE ON usage_record "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_month_apply()",
    "CREATE TRIGGER usage_month_truncate AFTER TRUNCATE ON usage_record "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_month_apply()",
)
_PG_BACKFILL = (
    "INSERT INTO usage_month (pilot_id, metric, month, quantity_micro, records) "
    "SELECT pilot_id, metric, date_trunc('month', day)::date, sum(quantity_micro), sum(records)"
    " FROM usage_day GROUP BY 1, 2, 3"
)

# SQLite: a timestamp is 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) and a DATE 'YYYY-MM-DD',
# so the month's first day is the first seven characters and '-01'.
_SQLITE_MICRO = "CAST(round({row}.quantity * 1000000) AS INTEGER)"
_SQLITE_MONTH = "substr({row}.window_start, 1, 7) || '-01'"
_SQLITE_KEY = "pilot_id = {row}.pilot_id AND metric = {row}.metric AND month = " + _SQLITE_MONTH


def _sqlite_add(row: str, sign: str) -> str:
    key = _SQLITE_KEY.format(row=row)
    micro = _SQLITE_MICRO.format(row=row)
    month = _SQLITE_MONTH.format(row=row)
    ensure = (
        "INSERT INTO usage_month (pilot_id, metric, month, quantity_micro, records) "
        f"SELECT {row}.pilot_id, {row}.metric, {month}, 0, 0 "
        f"WHERE NOT EXISTS (SELECT 1 FROM usage_month WHERE {key}); "
    )
    return (ensure if sign == "+" else "") + (
        f"UPDATE usage_month SET quantity_micro = quantity_micro {sign} {micro}, "
        f"records = records {sign} 1 WHERE {key}; "
    )


_SQLITE_TRIGGERS = (
    "CREATE TRIGGER usage_month_insert AFTER INSERT ON usage_record "
    f"BEGIN {_sqlite_add('NEW', '+')}END",
    "CREATE TRIGGER usage_month_update AFTER UPDATE OF pilot_id, metric, window_start, quantity "
    f"ON usage_record BEGIN {_sqlite_add('OLD', '-')}{_sqlite_add('NEW', '+')}END",
    "CREATE TRIGGER usage_month_delete AFTER DELETE ON usage_record "
    f"BEGIN {_sqlite_add('OLD', '-')}END",
)
_SQLITE_BACKFILL = (
    "INSERT INTO usage_month (pilot_id, metric, month, quantity_micro, records) "
    "SELECT pilot_id, metric, substr(day, 1, 7) || '-01', sum(quantity_micro), sum(records)"
    " FROM usage_day GROUP BY 1, 2, 3"
)
TRIGGER_NAMES = (
    "usage_month_insert",
    "usage_month_update",
    "usage_month_delete",
    "usage_month_truncate",
)


def upgrade() -> None:
    op.create_table(
        "usage_month",
        sa.Column("pilot_id", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("quantity_micro", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
    )
    op.create_index("ix_usage_month_month", "usage_month", ["month"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_BACKFILL)
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        op.execute(_SQLITE_BACKFILL)
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON usage_record" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS usage_month_apply()")
    op.drop_index("ix_usage_month_month", table_name="usage_month")
    op.drop_table("usage_month")
