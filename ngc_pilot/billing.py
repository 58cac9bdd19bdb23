"""Shadow invoices: aggregate metered usage in SQL, rate it, keep every revision.

Why this exists: the pilot charges nothing, but the steering group must see
what each project *would* have cost under NGC's payment model.  This module
is the imperative shell around the pure rating in ``policies/rating.py``:

* :func:`rate_month` sums each tenant's usage per (metric, price segment) in
  one SQL statement (``GROUP BY pilot_id, metric`` per segment of the month;
  no usage row ever travels to Python), rates it, and stores an :class:`Invoice`
  with its lines per tenant.  A rating identical to the latest revision writes
  nothing; a different one adds a revision, never alters one.  Each new
  revision is audited.
* Changing a price that an invoice already used is refused unless forced; a
  forced change is audited (``prices.changed``) and every invoice that used
  the old price is re-rated, so no invoice keeps a price the file no longer has.
* :func:`what_if` rates the same usage with two price lists and writes nothing.
* :func:`invoices` is the read side for the CLI, the PDF and the TUI.

The parts live in their own modules: :mod:`ngc_pilot.usage_aggregation`
(summing and rating usage), :mod:`ngc_pilot.invoice_revisions` (latest
revisions, changed prices, bulk writes), :mod:`ngc_pilot.invoice_reading`
(reading, what-if), :mod:`ngc_pilot.invoice_docs` (what a reader gets); this
module is the rating entry point and re-exports what its callers use.

Deliberately not here: money rules (``policies/rating.py``), the price file
(``policies/prices.py``), rendering (``ngc_pilot/invoice_pdf.py``, the CLI).

Decisions
---------
* **Final.**  A revision rated after its month ended is final (``final=None``
  decides by the clock; the expiry job passes ``final=True`` for a tenant's
  last invoice).  Once a month has a final revision, later revisions stay
  final.  A changed final month gets a new revision whose reason is the one
  given, or else a generated one saying what changed — never a silent change.
* **Base fee days.**  A tenant exists from the day its record was created (its
  provisioning started) until the day it was torn down, inclusive; a tenant
  that never got a project (no project id) pays no base fee; a suspended
  tenant still exists (its data is kept), so it does.  Limitation: a
  tenant re-provisioned after a teardown keeps its first creation date, so
  the gap counts.
* **Which tenants.**  Every tenant that existed in the month, and every pilot
  with usage in it.  Every tenant ngc-pilot runs is a pilot tenant, so the
  price list's pilot discount applies to all of them inside its period.
* **Writes in bulk.**  A month for 1,000 tenants writes up to 1,000
  revisions, ~5,000 lines and 1,000 audit rows.  They are inserted in bulk
  (``COPY`` on PostgreSQL, ``executemany`` on SQLite) rather than through the
  ORM one flush at a time, which took seconds; the audit rows go through
  :func:`ngc_pilot.audit.record_many`, which checks every event as
  :func:`ngc_pilot.audit.record` does.  Same tables, same transaction.
* **Exact sums on SQLite.**  SQLite stores NUMERIC as binary floating point, so
  there the sum is taken over the quantity in integer micro-units (the column
  has 6 decimal places), which is exact; PostgreSQL sums ``numeric`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from ngc_pilot import audit, bulk
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.invoice_docs import MONTH, TENANT, InvoiceDoc, WhatIf, check_pilots, parse_month
from ngc_pilot.invoice_reading import invoices, people, revisions, what_if
from ngc_pilot.invoice_revisions import latest_revisions, price_changes, write_revisions
from ngc_pilot.usage_aggregation import aggregate, rate_plan, segments_for
from policies.prices import PriceList
from policies.problems import Problem
from policies.rating import Month

__all__ = [
    "MONTH",
    "TENANT",
    "InvoiceDoc",
    "WhatIf",
    "aggregate",
    "invoices",
    "parse_month",
    "rate_due",
    "rate_month",
    "rate_months",
    "revisions",
    "what_if",
]


def rate_month(
    engine: Engine,
    prices: PriceList,
    month: str,
    *,
    actor: str,
    pilot_ids: Sequence[str] = (),
    force: bool = False,
    final: bool | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[InvoiceDoc]:
    """Rate ``month`` for every tenant (or ``pilot_ids``); store changed revisions.

    Returns the month's invoice per tenant (``written`` tells which this call
    wrote) followed by any other months re-rated because a forced price change
    affected them.  Raises :class:`InputError` for a bad month, an unknown
    tenant, a month the price list does not cover, or a changed price without
    ``force``.
    """
    return rate_months(
        engine,
        prices,
        [month],
        actor=actor,
        pilot_ids=pilot_ids,
        force=force,
        final=final,
        reason=reason,
        now=now,
    )


def rate_months(
    engine: Engine,
    prices: PriceList,
    months: Sequence[str],
    *,
    actor: str,
    pilot_ids: Sequence[str] = (),
    force: bool = False,
    final: bool | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[InvoiceDoc]:
    """:func:`rate_month` for several months with one aggregation query."""
    wanted = [parse_month(m) for m in months]
    now = now or utcnow()
    with bulk.gc_paused(), session_scope(engine) as session:
        pilots = check_pilots(session, pilot_ids)
        changes = price_changes(session, prices, pilots)
        if changes and not force:
            raise InputError(
                [
                    Problem(
                        prices.source or "price list",
                        f"versions[{c.version}]",
                        c.new_digest,
                        c.describe() + "; changing a price that already applied needs --force "
                        "(the change is audited and those invoices get new revisions)",
                    )
                    for c in changes
                ]
            )
        extra: set[tuple[str, str]] = set()
        for c in changes:
            audit.record(
                session,
                actor=actor,
                action="prices.changed",
                subject=f"prices:{c.version}",
                reason=reason,
                details={
                    "version": c.version,
                    "old_digest": c.old_digest,
                    "new_digest": c.new_digest,
                    "why": c.why,
                    "price_file": prices.source,
                    "price_file_digest": prices.digest,
                    "affected": [f"{p} {m} rev {r}" for p, m, r in c.invoices],
                },
            )
            extra |= {(p, m) for p, m, _ in c.invoices}
        labels = {str(m) for m in wanted}
        extra_months = sorted({m for _, m in extra} - labels)
        plan = [
            (m, segments_for(prices, m))
            for m in sorted(set(wanted) | {Month.parse(x) for x in extra_months})
        ]
        rated = rate_plan(session, prices, plan, pilots)
        # Months re-rated only because of the price change: just the affected tenants.
        rated = {k: v for k, v in rated.items() if k[1] in labels or k in extra}
        latest = latest_revisions(session, [str(m) for m, _ in plan], pilots)
        forced_reason = "; ".join(c.describe() for c in changes) if changes else None
        docs = write_revisions(
            session,
            prices,
            rated,
            latest,
            actor=actor,
            final=final,
            reason=reason,
            forced_reason=forced_reason,
            now=now,
            people=people(session, {p for p, _ in rated}),
        )
    order = {str(m): i for i, m in enumerate(wanted)}
    return sorted(
        docs, key=lambda d: (d.month not in order, order.get(d.month, 0), d.month, d.pilot_id)
    )


def rate_due(engine: Engine, settings: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """The service's daily rating: last month (final once it has ended) and this month.

    Uses the configured price list (``settings.policy.prices_file``); a revision is
    written only where something changed, so a daily run adds nothing on quiet days.
    """
    from policies.prices import load_prices
    from policies.problems import InputProblems

    now = now or utcnow()
    this = Month(now.year, now.month)
    last = Month(this.year - (this.month == 1), (this.month - 2) % 12 + 1)
    try:
        prices = load_prices(settings.policy.prices_file)
    except InputProblems as exc:
        raise InputError(exc.problems) from exc
    docs = rate_months(engine, prices, [str(last), str(this)], actor=settings.actor, now=now)
    return {
        "months": [str(last), str(this)],
        "invoices": len(docs),
        "written": sum(1 for d in docs if d.written),
    }
