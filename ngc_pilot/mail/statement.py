"""The monthly usage statement: each tenant's usage and shadow cost, queued to its PI.

Why this exists: the payment model is tested with the people who would pay;
once a month each principal investigator is told what their tenant used and
what it would have cost (list price, discount, charged — Decimal, from the
latest invoice revision of the month, :func:`ngc_pilot.invoice_reading.invoices`),
with the invoice lines attached as CSV, in the PI's language
(:func:`ngc_pilot.mail.pi_language`).  One notice per tenant and month
(key ``statement:<pilot>:<month>``), so running it again queues nothing new.

It deliberately rates nothing: the daily ``rate`` job writes the invoices
(final once the month has ended) and the ``statement`` job runs after it; a
tenant without an invoice for the month is reported as skipped, not priced
here by another route.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.invoice_docs import InvoiceDoc, parse_month
from ngc_pilot.invoice_reading import invoices
from ngc_pilot.mail.queueing import Attachment, queue
from ngc_pilot.mail.recipients import pi_language
from ngc_pilot.models import Application, Pilot
from policies.rating import Month


@dataclass
class StatementReport:
    month: str
    queued: list[dict[str, Any]] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "queued": self.queued,
            "already_queued": self.already,
            "failed": 0,
        }


def statement_key(pilot_id: str, month: str) -> str:
    return f"statement:{pilot_id}:{month}"


def _csv(doc: InvoiceDoc) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "item",
            "description",
            "period_from",
            "period_until",
            "quantity",
            "unit",
            "unit_price",
            "list_amount",
            "discount",
            "charged",
            "currency",
        ]
    )
    for line in doc.lines:
        writer.writerow(
            [
                line.item,
                line.description,
                line.period_from.isoformat(),
                line.period_until.isoformat(),
                line.quantity,
                line.unit,
                line.unit_price,
                line.list_amount,
                line.discount,
                line.charged,
                doc.currency,
            ]
        )
    writer.writerow(
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            "",
            doc.list_total,
            doc.discount_total,
            doc.charged_total,
            doc.currency,
        ]
    )
    return out.getvalue().encode("utf-8")


def context_of(doc: InvoiceDoc) -> dict[str, Any]:
    return {
        "pi_name": doc.pi_name,
        "pilot": doc.pilot_id,
        "title": doc.title,
        "project": doc.project,
        "month": doc.month,
        "final": doc.final,
        "revision": doc.revision,
        "currency": doc.currency,
        "list_total": doc.list_total,
        "discount_total": doc.discount_total,
        "charged_total": doc.charged_total,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity.normalize(),
                "unit": line.unit,
                "list_amount": line.list_amount,
                "discount": line.discount,
                "charged": line.charged,
            }
            for line in doc.lines
        ],
    }


def _language_of(session: Any, pilot_id: str) -> str:
    pilot = session.get(Pilot, pilot_id)
    app = session.get(Application, pilot.application_id) if pilot is not None else None
    return pi_language(app.document if app is not None else None)


def queue_statements(
    engine: Engine, month: str, *, actor: str, language: str | None = None
) -> StatementReport:
    """Queue the statement for ``month`` (YYYY-MM) to the PI of every tenant invoiced that month,
    in each PI's language (``language`` overrides it for all)."""
    label = str(parse_month(month, "month"))
    report = StatementReport(label)
    with session_scope(engine) as session:
        for doc in invoices(session, label):
            key = statement_key(doc.pilot_id, label)
            done = queue(
                session,
                key=key,
                kind="statement",
                recipient=doc.pi_email,
                language=language or _language_of(session, doc.pilot_id),
                context=context_of(doc),
                pilot_id=doc.pilot_id,
                attachments=[
                    Attachment(f"statement-{doc.pilot_id}-{label}.csv", _csv(doc), "text/csv")
                ],
            )
            if not done.created:
                report.already.append(doc.pilot_id)
                continue
            entry = {
                "pilot": doc.pilot_id,
                "key": key,
                "recipient": doc.pi_email,
                "revision": doc.revision,
                "final": doc.final,
                "currency": doc.currency,
                "list_total": str(doc.list_total),
                "discount_total": str(doc.discount_total),
                "charged_total": str(doc.charged_total),
            }
            report.queued.append(entry)
            audit.record(
                session,
                actor=actor,
                action="mail.statement_queued",
                subject=doc.pilot_id,
                reason=f"monthly usage statement for {label}",
                details=entry,
            )
    return report


def statement_due(engine: Engine, settings: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """The service's monthly run: last month's statements (the scheduled ``statement`` job)."""
    now = now or utcnow()
    this = Month(now.year, now.month)
    last = Month(this.year - (this.month == 1), (this.month - 2) % 12 + 1)
    return queue_statements(engine, str(last), actor=settings.actor).as_dict()
