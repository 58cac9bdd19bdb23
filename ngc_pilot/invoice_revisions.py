"""Invoice revisions: the latest of each, which changed, and writing new ones in bulk.

Why this exists: an invoice is never altered — a rating that differs from the
latest revision adds a revision, an identical one writes nothing — and a
price that an invoice already used may change only when forced, audited, with
every affected invoice re-rated (:func:`price_changes` finds them in SQL, so
the work does not grow with the number of invoices).  New revisions, their
lines and their ``invoice.rated`` audit events are written in bulk: the
invoices and lines with ``COPY`` on PostgreSQL (``executemany`` on SQLite),
the audit events through the audit log's bulk front door,
:func:`ngc_pilot.audit.record_many`.  It deliberately sums no usage
(:mod:`ngc_pilot.usage_aggregation`) and decides no money (``policies/rating.py``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, insert, or_, select, text
from sqlmodel import Session, col

from ngc_pilot import audit, bulk
from ngc_pilot.invoice_docs import InvoiceDoc, doc_from_row, line_from_row
from ngc_pilot.models import Invoice, InvoiceLine, InvoicePriceDigest, InvoicePriceSpan
from ngc_pilot.usage_aggregation import midnight
from policies.prices import PriceList
from policies.rating import Line, Month, Rated


def latest_revision_ids(months: Iterable[str] | None, pilot_ids: Sequence[str]) -> Any:
    query = select(
        Invoice.pilot_id, Invoice.month, func.max(Invoice.revision).label("revision")
    ).group_by(Invoice.pilot_id, Invoice.month)
    if months is not None:
        query = query.where(col(Invoice.month).in_(list(months)))
    if pilot_ids:
        query = query.where(col(Invoice.pilot_id).in_(list(pilot_ids)))
    return query.subquery()


def latest_revisions(
    session: Session, months: Iterable[str], pilot_ids: Sequence[str] = ()
) -> dict[tuple[str, str], InvoiceDoc]:
    """The latest revision of each (pilot, month), with its lines (plain rows, no ORM objects)."""
    latest = latest_revision_ids(months, pilot_ids)
    invoice_table = Invoice.__table__  # type: ignore[attr-defined]
    line_table = InvoiceLine.__table__  # type: ignore[attr-defined]
    is_latest = and_(
        invoice_table.c.pilot_id == latest.c.pilot_id,
        invoice_table.c.month == latest.c.month,
        invoice_table.c.revision == latest.c.revision,
    )
    rows = session.execute(select(*invoice_table.c).join(latest, is_latest)).all()
    lines: dict[int, list[Line]] = defaultdict(list)
    if rows:
        for line in session.execute(
            select(*line_table.c)
            .join(invoice_table, invoice_table.c.id == line_table.c.invoice_id)
            .join(latest, is_latest)
            .order_by(line_table.c.invoice_id, line_table.c.position)
        ):
            lines[line.invoice_id].append(line_from_row(line))
    return {(inv.pilot_id, inv.month): doc_from_row(inv, lines[inv.id]) for inv in rows}


def same_rating(doc: InvoiceDoc, rated: Rated) -> bool:
    return (
        [line.key() for line in doc.lines] == [line.key() for line in rated.lines]
        and doc.list_total == rated.list_total
        and doc.discount_total == rated.discount_total
        and doc.charged_total == rated.charged_total
        and doc.versions == rated.versions
    )


def prices_record(prices: PriceList, rated: Rated) -> dict[str, Any]:
    versions = {}
    for version_id in sorted(rated.versions):
        version = prices.version(version_id)
        assert version is not None
        versions[version_id] = {
            "digest": version.digest,
            "valid_from": version.valid_from.isoformat(),
            "valid_until": version.valid_until.isoformat() if version.valid_until else None,
        }
    pilot = prices.discounts.pilot
    return {
        "file_digest": prices.digest,
        "versions": versions,
        "discount": None
        if pilot is None
        else {
            "rule": "pilot",
            "percent": str(pilot.percent),
            "from": pilot.from_.isoformat(),
            "until": pilot.until.isoformat(),
        },
    }


@dataclass(frozen=True)
class PriceChange:
    """A price version that invoices used and the price list now prices differently."""

    version: str
    old_digest: str
    new_digest: str | None  # None: the version is gone
    why: str
    invoices: tuple[tuple[str, str, int], ...]  # (pilot, month, revision)

    def describe(self) -> str:
        shown = ", ".join(f"{p} {m} rev {r}" for p, m, r in self.invoices[:10])
        more = f" … ({len(self.invoices)} in all)" if len(self.invoices) > 10 else ""
        digest = (
            f"digest {self.old_digest[:12]} unchanged"
            if self.new_digest == self.old_digest
            else f"digest {self.old_digest[:12]} -> {(self.new_digest or 'none')[:12]}"
        )
        return (
            f"price version '{self.version}' {self.why} ({digest}); "
            f"it already applied to {shown}{more}"
        )


def price_changes(
    session: Session, prices: PriceList, pilot_ids: Sequence[str] = ()
) -> list[PriceChange]:
    """Price versions used by the latest invoice revisions that ``prices`` changes.

    Changed means: the version is gone, its digest (what it charges) differs,
    or its dates no longer cover a period an invoice rated with it.

    First the summary of every revision's versions, latest or not
    (``invoice_price_digest`` and ``invoice_price_span``, kept by triggers;
    migration 0017): a few rows, however many invoices are kept.  When no
    revision at all used a changed version or a date outside its version, no
    latest one did, and the answer is empty.  Only otherwise (in practice:
    after a price change, whose superseded revisions keep the old digest) the
    exact search runs, with the distinct price records and per-version period
    spans aggregated in SQL.
    """
    if _no_revision_affected(session, prices):
        return []
    return search_price_changes(session, prices, pilot_ids)


def search_price_changes(
    session: Session, prices: PriceList, pilot_ids: Sequence[str] = ()
) -> list[PriceChange]:
    """:func:`price_changes` without its shortcut: always reads the latest revisions."""
    latest = latest_revision_ids(None, pilot_ids)
    is_latest = and_(
        Invoice.pilot_id == latest.c.pilot_id,
        Invoice.month == latest.c.month,
        Invoice.revision == latest.c.revision,
    )
    records = cast(Invoice.prices, String)
    changed: dict[str, tuple[str, str | None, str]] = {}
    bad_texts: dict[str, set[str]] = defaultdict(set)
    for (record,) in session.execute(select(records).join(latest, is_latest).group_by(records)):
        for version_id, info in (json.loads(record) or {}).get("versions", {}).items():
            now = prices.version(version_id)
            if now is None:
                changed[version_id] = (info["digest"], None, "is no longer in the price list")
                bad_texts[version_id].add(record)
            elif now.digest != info["digest"]:
                changed[version_id] = (info["digest"], now.digest, "has different prices now")
                bad_texts[version_id].add(record)
    affected: dict[str, set[tuple[str, str, int]]] = defaultdict(set)
    for version_id, texts in bad_texts.items():
        for pilot_id, month, revision in session.execute(
            select(Invoice.pilot_id, Invoice.month, Invoice.revision)
            .join(latest, is_latest)
            .where(records.in_(sorted(texts)))
        ):
            affected[version_id].add((pilot_id, month, revision))
    # Dates: a version must still cover every period it rated.
    spans = session.execute(
        select(
            InvoiceLine.price_version,
            func.min(InvoiceLine.period_from),
            func.max(InvoiceLine.period_until),
        )
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .join(latest, is_latest)
        .group_by(InvoiceLine.price_version)
    ).all()
    for version_id, first, last in spans:
        now = prices.version(version_id)
        if now is None or version_id in changed:
            continue
        if now.valid_from <= first and (now.valid_until is None or last <= now.valid_until):
            continue
        outside = or_(
            col(InvoiceLine.period_from) < now.valid_from,
            *([col(InvoiceLine.period_until) > now.valid_until] if now.valid_until else []),
        )
        rows = session.execute(
            select(Invoice.pilot_id, Invoice.month, Invoice.revision, records)
            .join(latest, is_latest)
            .join(InvoiceLine, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(InvoiceLine.price_version == version_id)
            .where(outside)
        ).all()
        old = next((json.loads(r[3])["versions"][version_id]["digest"] for r in rows), now.digest)
        changed[version_id] = (
            old,
            now.digest,
            f"no longer covers {first} until {last} ({now.span()})",
        )
        affected[version_id] |= {(r[0], r[1], r[2]) for r in rows}
    return [
        PriceChange(v, old, new, why, tuple(sorted(affected[v])))
        for v, (old, new, why) in sorted(changed.items())
        if affected[v]
    ]


def _no_revision_affected(session: Session, prices: PriceList) -> bool:
    """True when no invoice revision (of any pilot) used a version ``prices`` changes."""
    for version_id, digest in session.execute(
        select(InvoicePriceDigest.price_version, InvoicePriceDigest.digest)
    ):
        now = prices.version(version_id)
        if now is None or now.digest != digest:
            return False
    for version_id, first, last in session.execute(
        select(
            InvoicePriceSpan.price_version,
            InvoicePriceSpan.period_from,
            InvoicePriceSpan.period_until,
        )
    ):
        now = prices.version(version_id)
        if now is None or now.valid_from > first:
            return False
        if now.valid_until is not None and last > now.valid_until:
            return False
    return True


def write_revisions(
    session: Session,
    prices: PriceList,
    rated: dict[tuple[str, str], Rated],
    latest: dict[tuple[str, str], InvoiceDoc],
    *,
    actor: str,
    final: bool | None,
    reason: str | None,
    forced_reason: str | None,
    now: datetime,
    people: Mapping[str, Mapping[str, str]] | None = None,
) -> list[InvoiceDoc]:
    """The month's invoice per rated tenant: the latest revision if the rating is the
    same, else a new revision (written in bulk).  ``people`` (pilot -> project, title,
    PI, institution; see :func:`ngc_pilot.invoice_reading.people`) fills those fields."""
    people = people or {}
    docs: list[InvoiceDoc] = []
    new: list[InvoiceDoc] = []
    # Once per month, not per tenant: parsing a label 1,000 times a month showed in profiles.
    ended = {label: now >= midnight(Month.parse(label).until) for label in {m for _, m in rated}}
    records: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}  # one per set of versions
    for key in sorted(rated):
        pilot_id, label = key
        r = rated[key]
        before = latest.get(key)
        is_final = final if final is not None else ended[label]
        if before is not None and before.final:
            is_final = True
        if before is not None and same_rating(before, r) and (before.final or not is_final):
            docs.append(replace(before, **people[pilot_id]) if pilot_id in people else before)
            continue
        used = tuple(sorted(r.versions.items()))
        why = reason
        if before is not None and why is None:
            why = forced_reason or what_changed(before, r, is_final)
        doc = InvoiceDoc(
            pilot_id=pilot_id,
            month=label,
            revision=before.revision + 1 if before else 1,
            final=is_final,
            currency=r.currency,
            list_total=r.list_total,
            discount_total=r.discount_total,
            charged_total=r.charged_total,
            lines=r.lines,
            prices=records.get(used) or records.setdefault(used, prices_record(prices, r)),
            rated_at=now,
            rated_by=actor,
            reason=why,
            written=True,
            **people.get(pilot_id, {}),
        )
        new.append(doc)
        docs.append(doc)
    if new:
        insert_revisions(session, new)
    return docs


def what_changed(before: InvoiceDoc, r: Rated, is_final: bool) -> str:
    if same_rating(before, r):
        return "the month has closed: this revision is final"
    if before.versions != r.versions:
        return f"re-rated with price versions {r.versions} (was {before.versions})"
    return (
        f"usage changed after revision {before.revision}: list total "
        f"{before.list_total} -> {r.list_total} {r.currency}, charged "
        f"{before.charged_total} -> {r.charged_total} {r.currency}"
    )


def insert_revisions(session: Session, docs: list[InvoiceDoc]) -> None:
    """Write the new revisions, their lines and their audit events in bulk."""
    invoice_table = Invoice.__table__  # type: ignore[attr-defined]
    line_table = InvoiceLine.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "pilot_id": d.pilot_id,
            "month": d.month,
            "revision": d.revision,
            "final": d.final,
            "currency": d.currency,
            "list_total": d.list_total,
            "discount_total": d.discount_total,
            "charged_total": d.charged_total,
            "prices": d.prices,
            "rated_at": d.rated_at,
            "rated_by": d.rated_by,
            "reason": d.reason,
        }
        for d in docs
    ]
    session.flush()  # events recorded one by one before these keep their order
    postgres = bulk.is_postgres(session)
    if postgres:
        ids = [
            row[0]
            for row in session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('invoice', 'id'))"
                    " FROM generate_series(1, :n)"
                ),
                {"n": len(rows)},
            )
        ]
        for invoice_id, row in zip(ids, rows, strict=True):
            row["id"] = invoice_id
    else:
        ids = (
            session.execute(
                insert(invoice_table).returning(invoice_table.c.id, sort_by_parameter_order=True),
                rows,
            )
            .scalars()
            .all()
        )
    # The server inserts each table while the next one's rows are built.
    with bulk.copy_stream(session) as send:
        if postgres:
            send(invoice_table, rows)
        send(
            line_table,
            [
                {
                    "invoice_id": invoice_id,
                    "position": line.position,
                    "item": line.item,
                    "description": line.description,
                    "price_version": line.price_version,
                    "period_from": line.period_from,
                    "period_until": line.period_until,
                    "quantity": line.quantity,
                    "unit": line.unit,
                    "unit_price": line.unit_price,
                    "list_amount": line.list_amount,
                    "discount": line.discount,
                    "charged": line.charged,
                }
                for invoice_id, d in zip(ids, docs, strict=True)
                for line in d.lines
            ],
        )
        audit.record_many(
            session,
            (
                audit.Entry(
                    actor=d.rated_by,
                    action="invoice.rated",
                    subject=d.pilot_id,
                    reason=d.reason,
                    details={
                        "invoice_id": invoice_id,
                        "month": d.month,
                        "revision": d.revision,
                        "final": d.final,
                        "currency": d.currency,
                        "list_total": str(d.list_total),
                        "discount_total": str(d.discount_total),
                        "charged_total": str(d.charged_total),
                        "lines": len(d.lines),
                        "price_versions": d.versions,
                        "price_file_digest": d.prices.get("file_digest"),
                    },
                )
                for invoice_id, d in zip(ids, docs, strict=True)
            ),
            into=send,
        )
