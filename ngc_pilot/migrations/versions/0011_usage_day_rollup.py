"""usage_day: the daily usage rollup rating reads, kept by triggers, backfilled here.

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-05

Per (tenant, metric, UTC day of ``window_start``): the sum of the usage
records' quantities in micro-units (exact on SQLite, whose NUMERIC is a
float) and how many records it sums (a day whose records were all deleted
keeps a row with 0 records, which rating ignores, so sums from days and from
hours are the same sets).  Triggers on ``usage_record`` keep it in the same
transaction as every write, as ``usage_total``'s do (0003): PostgreSQL with
one statement-level trigger per event over its transition tables (keys
upserted in order, so concurrent writers cannot deadlock), SQLite with row
triggers.  An UPDATE (metering's upsert of a recomputed window) subtracts the
old quantity and adds the new one: re-metering replaces, never adds.
Existing records are summed into the table by this migration.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PG_DAY = "(window_start AT TIME ZONE 'UTC')::date"
_PG_MICRO = "round(quantity * 1000000)::bigint"
_PG_UPSERT = (
    "ON CONFLICT (pilot_id, metric, day) DO UPDATE SET"
    " quantity_micro = usage_day.quantity_micro + EXCLUDED.quantity_micro,"
    " records = usage_day.records + EXCLUDED.records"
)
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION usage_day_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_day;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_day (pilot_id, metric, day, quantity_micro, records)
        SELECT pilot_id, metric, {_PG_DAY}, sum({_PG_MICRO}), count(*) FROM new_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {_PG_UPSERT};
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO usage_day (pilot_id, metric, day, quantity_micro, records)
        SELECT pilot_id, metric, day, sum(micro), sum(n) FROM (
            SELECT pilot_id, metric, {_PG_DAY} AS day, {_PG_MICRO} AS micro, 1 AS n
            FROM new_rows
            UNION ALL
            SELECT pilot_id, metric, {_PG_DAY}, -{_PG_MICRO}, -1 FROM old_rows
        ) AS change
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {_PG_UPSERT};
    ELSE
        INSERT INTO usage_day (pilot_id, metric, day, quantity_micro, records)
        SELECT pilot_id, metric, {_PG_DAY}, -sum({_PG_MICRO}), -count(*) FROM old_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {_PG_UPSERT};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER usage_day_insert AFTER INSERT ON usage_record "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_day_apply()",
    "CREATE TRIGGER usage_day_update AFTER UPDATE ON usage_record "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_day_apply()",
    "CREATE TRIGGER usage_day_delete AFTER DELETE ON usage_record "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_day_apply()",
    "CREATE TRIGGER usage_day_truncate AFTER TRUNCATE ON usage_record "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_day_apply()",
)
_PG_BACKFILL = (
    "INSERT INTO usage_day (pilot_id, metric, day, quantity_micro, records) "
    f"SELECT pilot_id, metric, {_PG_DAY}, sum({_PG_MICRO}), count(*) FROM usage_record "
    "GROUP BY 1, 2, 3"
)

# SQLite stores a timestamp as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): the day is its
# first ten characters, which is also how a DATE is stored.  Not "INSERT OR
# IGNORE": a trigger fired by an UPSERT takes the UPSERT's conflict policy.
_SQLITE_MICRO = "CAST(round({row}.quantity * 1000000) AS INTEGER)"
_SQLITE_KEY = "pilot_id = {row}.pilot_id AND metric = {row}.metric AND day = substr({row}.window_start, 1, 10)"


def _sqlite_add(row: str, sign: str) -> str:
    key = _SQLITE_KEY.format(row=row)
    micro = _SQLITE_MICRO.format(row=row)
    ensure = (
        "INSERT INTO usage_day (pilot_id, metric, day, quantity_micro, records) "
        f"SELECT {row}.pilot_id, {row}.metric, substr({row}.window_start, 1, 10), 0, 0 "
        f"WHERE NOT EXISTS (SELECT 1 FROM usage_day WHERE {key}); "
    )
    return (ensure if sign == "+" else "") + (
        f"UPDATE usage_day SET quantity_micro = quantity_micro {sign} {micro}, "
        f"records = records {sign} 1 WHERE {key}; "
    )


_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER usage_day_insert AFTER INSERT ON usage_record BEGIN {_sqlite_add('NEW', '+')}END",
    "CREATE TRIGGER usage_day_update AFTER UPDATE OF pilot_id, metric, window_start, quantity "
    f"ON usage_record BEGIN {_sqlite_add('OLD', '-')}{_sqlite_add('NEW', '+')}END",
    f"CREATE TRIGGER usage_day_delete AFTER DELETE ON usage_record BEGIN {_sqlite_add('OLD', '-')}END",
)
_SQLITE_BACKFILL = (
    "INSERT INTO usage_day (pilot_id, metric, day, quantity_micro, records) "
    "SELECT pilot_id, metric, substr(window_start, 1, 10), "
    "sum(CAST(round(quantity * 1000000) AS INTEGER)), count(*) FROM usage_record "
    "GROUP BY 1, 2, 3"
)
TRIGGER_NAMES = ("usage_day_insert", "usage_day_update", "usage_day_delete", "usage_day_truncate")


def upgrade() -> None:
    op.create_table(
        "usage_day",
        sa.Column("pilot_id", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("quantity_micro", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
    )
    op.create_index("ix_usage_day_day", "usage_day", ["day"])
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
        op.execute("DROP FUNCTION IF EXISTS usage_day_apply()")
    op.drop_index("ix_usage_day_day", table_name="usage_day")
    op.drop_table("usage_day")
