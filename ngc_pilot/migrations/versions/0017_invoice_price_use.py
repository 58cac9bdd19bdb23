"""invoice_price_digest and invoice_price_span: the price versions invoices used; no ix_invoice_pilot_id.

Revision ID: 0017_invoice_price_use
Revises: 0016_usage_month
Create Date: 2026-12-06

Before rating, ``price_changes`` asks whether the price list changes a version
that an invoice already used: a version gone, a different digest, or dates
that no longer cover a period an invoice rated with it.  It read every
invoice's price record and every line's period to find out, so the check
grew with the invoices kept (0.13-0.22 s of rating 12 months for 1,000
tenants).  These two small tables hold the answer's inputs instead:

* ``invoice_price_digest``: every (version, digest) pair in any revision's
  price record (``invoice.prices -> 'versions'``);
* ``invoice_price_span``: per version, the earliest ``period_from`` and the
  latest ``period_until`` of every line rated with it.

Both count every revision, latest or superseded, and only grow (a deleted
invoice's pairs stay; TRUNCATE empties them): a superset of what the latest
revisions use, enough to answer "nothing changed" in a few rows.  When they
show a possible change, ``price_changes`` searches the invoices as before.

Kept by triggers in the writing transaction, whatever writes the invoices:
PostgreSQL statement-level triggers over the transition tables (COPY fires
them too; only keys not already covered are upserted, so a steady state
locks no summary row), SQLite row triggers.  Existing invoices are read in by
this migration.

Also drops ``ix_invoice_pilot_id``: ``uq_invoice_revision`` (pilot_id, month,
revision) serves every lookup by pilot, and the second index cost an entry
per invoice written.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_invoice_price_use"
down_revision = "0016_usage_month"
branch_labels = None
depends_on = None

# The versions object of a price record, or an empty one when it is missing or not an object.
_PG_VERSIONS = (
    "CASE WHEN json_typeof({prices} -> 'versions') = 'object'"
    " THEN {prices} -> 'versions' ELSE json_build_object() END"
)
_PG_DIGESTS = (
    "SELECT DISTINCT v.key AS price_version, coalesce(v.value ->> 'digest', '') AS digest"
    " FROM {source} AS r, json_each(" + _PG_VERSIONS.format(prices="r.prices") + ") AS v"
)
# The distinct price records, each parsed once: a month's invoices share one.
_PG_RECORDS = (
    "(SELECT record::json AS prices FROM (SELECT DISTINCT prices::text AS record FROM {rows}) AS t)"
)
_PG_SPANS = (
    "SELECT price_version, min(period_from) AS period_from, max(period_until) AS period_until"
    " FROM {source} GROUP BY price_version"
)
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION invoice_price_use_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF TG_TABLE_NAME = 'invoice' THEN
            DELETE FROM invoice_price_digest;
        ELSE
            DELETE FROM invoice_price_span;
        END IF;
    ELSIF TG_TABLE_NAME = 'invoice' THEN
        INSERT INTO invoice_price_digest (price_version, digest)
        SELECT n.price_version, n.digest FROM ({_PG_DIGESTS.format(source=_PG_RECORDS.format(rows="new_rows"))}) AS n
        WHERE NOT EXISTS (
            SELECT 1 FROM invoice_price_digest AS d
            WHERE d.price_version = n.price_version AND d.digest = n.digest
        )
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO invoice_price_span (price_version, period_from, period_until)
        SELECT n.price_version, n.period_from, n.period_until
        FROM ({_PG_SPANS.format(source="new_rows")}) AS n
        WHERE NOT EXISTS (
            SELECT 1 FROM invoice_price_span AS s
            WHERE s.price_version = n.price_version
              AND s.period_from <= n.period_from AND s.period_until >= n.period_until
        )
        ORDER BY 1
        ON CONFLICT (price_version) DO UPDATE SET
            period_from = least(invoice_price_span.period_from, EXCLUDED.period_from),
            period_until = greatest(invoice_price_span.period_until, EXCLUDED.period_until);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER invoice_price_digest_insert AFTER INSERT ON invoice "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION invoice_price_use_apply()",
    "CREATE TRIGGER invoice_price_digest_update AFTER UPDATE ON invoice "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION invoice_price_use_apply()",
    "CREATE TRIGGER invoice_price_digest_truncate AFTER TRUNCATE ON invoice "
    "FOR EACH STATEMENT EXECUTE FUNCTION invoice_price_use_apply()",
    "CREATE TRIGGER invoice_price_span_insert AFTER INSERT ON invoice_line "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION invoice_price_use_apply()",
    "CREATE TRIGGER invoice_price_span_update AFTER UPDATE ON invoice_line "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION invoice_price_use_apply()",
    "CREATE TRIGGER invoice_price_span_truncate AFTER TRUNCATE ON invoice_line "
    "FOR EACH STATEMENT EXECUTE FUNCTION invoice_price_use_apply()",
)
_PG_BACKFILL = (
    "INSERT INTO invoice_price_digest (price_version, digest) "
    + _PG_DIGESTS.format(source=_PG_RECORDS.format(rows="invoice")),
    "INSERT INTO invoice_price_span (price_version, period_from, period_until) "
    + _PG_SPANS.format(source="invoice_line"),
)

# SQLite: the price record is JSON text; a DATE is 'YYYY-MM-DD', so min/max compare as text.
_SQLITE_DIGESTS = (
    "SELECT DISTINCT v.key, coalesce(json_extract(v.value, '$.digest'), '')"
    " FROM json_each(CASE WHEN json_type({prices}, '$.versions') = 'object'"
    " THEN json_extract({prices}, '$.versions') ELSE json_object() END) AS v"
)
_SQLITE_DIGEST_ADD = (
    "INSERT OR IGNORE INTO invoice_price_digest (price_version, digest) "
    + _SQLITE_DIGESTS.format(prices="NEW.prices")
    + "; "
)
_SQLITE_SPAN_ADD = (
    "INSERT OR IGNORE INTO invoice_price_span (price_version, period_from, period_until) "
    "VALUES (NEW.price_version, NEW.period_from, NEW.period_until); "
    "UPDATE invoice_price_span SET period_from = min(period_from, NEW.period_from), "
    "period_until = max(period_until, NEW.period_until) "
    "WHERE price_version = NEW.price_version "
    "AND (period_from > NEW.period_from OR period_until < NEW.period_until); "
)
# Row triggers fire per row, so each skips what is already known (the rows' cost
# per 12,000 invoices and 24,000 lines: ~0.08 s of CPU unconditional, ~0.02 s so):
# an invoice whose price record is the previous id's (a bulk write's invoices share
# one) adds nothing new, since every stored invoice's pairs are in the table; a
# line whose period its version's span already covers neither.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER invoice_price_digest_insert AFTER INSERT ON invoice "
    "WHEN NEW.prices IS NOT (SELECT prices FROM invoice WHERE id = NEW.id - 1) "
    f"BEGIN {_SQLITE_DIGEST_ADD}END",
    "CREATE TRIGGER invoice_price_digest_update AFTER UPDATE OF prices ON invoice "
    f"BEGIN {_SQLITE_DIGEST_ADD}END",
    "CREATE TRIGGER invoice_price_span_insert AFTER INSERT ON invoice_line "
    "WHEN NOT EXISTS (SELECT 1 FROM invoice_price_span WHERE price_version = NEW.price_version"
    " AND period_from <= NEW.period_from AND period_until >= NEW.period_until) "
    f"BEGIN {_SQLITE_SPAN_ADD}END",
    "CREATE TRIGGER invoice_price_span_update AFTER UPDATE OF price_version, period_from, "
    f"period_until ON invoice_line BEGIN {_SQLITE_SPAN_ADD}END",
)
_SQLITE_BACKFILL = (
    "INSERT OR IGNORE INTO invoice_price_digest (price_version, digest) "
    + _SQLITE_DIGESTS.format(prices="r.prices").replace(
        " FROM json_each(", " FROM (SELECT DISTINCT prices FROM invoice) AS r, json_each(", 1
    ),
    "INSERT INTO invoice_price_span (price_version, period_from, period_until) "
    "SELECT price_version, min(period_from), max(period_until) FROM invoice_line"
    " GROUP BY price_version",
)
TRIGGERS = {
    "invoice_price_digest_insert": "invoice",
    "invoice_price_digest_update": "invoice",
    "invoice_price_digest_truncate": "invoice",
    "invoice_price_span_insert": "invoice_line",
    "invoice_price_span_update": "invoice_line",
    "invoice_price_span_truncate": "invoice_line",
}


def upgrade() -> None:
    op.create_table(
        "invoice_price_digest",
        sa.Column("price_version", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(128), primary_key=True),
    )
    op.create_table(
        "invoice_price_span",
        sa.Column("price_version", sa.String(64), primary_key=True),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_until", sa.Date(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (*_PG_BACKFILL, _PG_FUNCTION, *_PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in (*_SQLITE_BACKFILL, *_SQLITE_TRIGGERS):
            op.execute(statement)
    op.drop_index("ix_invoice_pilot_id", table_name="invoice")


def downgrade() -> None:
    op.create_index("ix_invoice_pilot_id", "invoice", ["pilot_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS invoice_price_use_apply()")
    op.drop_table("invoice_price_span")
    op.drop_table("invoice_price_digest")
