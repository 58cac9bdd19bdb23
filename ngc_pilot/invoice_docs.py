"""What an invoice looks like to its readers, and the inputs every billing call checks.

Why this exists: rating, revisions, reading and the what-if comparison all
hand out :class:`InvoiceDoc` (one revision of one tenant's invoice, with what
a reader needs to show it) and check a month and a list of tenants the same
way.  It deliberately reads no usage and writes nothing; rendering is the
PDF's and the interfaces' (``ngc_pilot/invoice_pdf.py``, the CLI, the TUI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.models import Tenant
from policies.problems import Problem
from policies.rating import Line, Month, Rated, canonical_price


@dataclass(frozen=True)
class InvoiceDoc:
    """One revision of one tenant's invoice, with what a reader needs to show it."""

    pilot_id: str
    month: str
    revision: int
    final: bool
    currency: str
    list_total: Decimal
    discount_total: Decimal
    charged_total: Decimal
    lines: tuple[Line, ...]
    prices: dict[str, Any] = field(default_factory=dict)
    rated_at: datetime | None = None
    rated_by: str = ""
    reason: str | None = None
    project: str = ""
    title: str = ""
    pi_name: str = ""
    pi_email: str = ""
    institution: str = ""
    written: bool = False  # set by rate_month: this call wrote the revision

    @property
    def versions(self) -> dict[str, str]:
        return {k: v["digest"] for k, v in self.prices.get("versions", {}).items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "month": self.month,
            "revision": self.revision,
            "final": self.final,
            "currency": self.currency,
            "list_total": str(self.list_total),
            "discount_total": str(self.discount_total),
            "charged_total": str(self.charged_total),
            "rated_at": self.rated_at.isoformat() if self.rated_at else None,
            "rated_by": self.rated_by,
            "reason": self.reason,
            "project": self.project,
            "title": self.title,
            "pi_name": self.pi_name,
            "institution": self.institution,
            "price_versions": self.versions,
            "written": self.written,
            "lines": [line.as_dict() for line in self.lines],
        }


@dataclass(frozen=True)
class WhatIf:
    """The same usage of one tenant rated with two price lists."""

    pilot_id: str
    current: Rated
    other: Rated

    def as_dict(self) -> dict[str, Any]:
        def side(r: Rated) -> dict[str, Any]:
            return {
                "list_total": str(r.list_total),
                "discount_total": str(r.discount_total),
                "charged_total": str(r.charged_total),
                "price_versions": r.versions,
                "lines": [line.as_dict() for line in r.lines],
            }

        return {
            "pilot": self.pilot_id,
            "current": side(self.current),
            "other": side(self.other),
            "difference": {
                "list_total": str(self.other.list_total - self.current.list_total),
                "discount_total": str(self.other.discount_total - self.current.discount_total),
                "charged_total": str(self.other.charged_total - self.current.charged_total),
            },
        }


MONTH = "month"  # the billing month asked for (an interface words it as its own field)
TENANT = "tenant"  # a pilot whose tenant is asked for


def parse_month(text: str, field_name: str = MONTH) -> Month:
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise InputError(
            [Problem("billing", field_name, text, "not a month; allowed: YYYY-MM, e.g. 2021-05")]
        ) from exc


def check_pilots(session: Session, pilot_ids: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(pilot_ids))
    if not wanted:
        return []
    known = set(session.execute(select(Tenant.pilot_id)).scalars().all())
    known |= set(session.execute(select(KubeTenant.pilot_id)).scalars().all())  # namespaces
    unknown = [p for p in wanted if p not in known]
    if unknown:
        allowed = sorted(known)
        shown = ", ".join(allowed[:20]) + (
            f" … ({len(allowed)} in all)" if len(allowed) > 20 else ""
        )
        raise NotFoundError(
            [
                Problem(
                    "billing",
                    TENANT,
                    p,
                    f"no tenant for this pilot; allowed: {shown or '(no tenants yet)'}",
                )
                for p in unknown
            ]
        )
    return wanted


def line_from_row(row: Any) -> Line:
    return Line(
        position=row.position,
        item=row.item,
        description=row.description,
        price_version=row.price_version,
        period_from=row.period_from,
        period_until=row.period_until,
        quantity=Decimal(row.quantity),
        unit=row.unit,
        unit_price=canonical_price(Decimal(row.unit_price)),
        list_amount=Decimal(row.list_amount),
        discount=Decimal(row.discount),
        charged=Decimal(row.charged),
    )


def doc_from_row(inv: Any, lines: Sequence[Line]) -> InvoiceDoc:
    return InvoiceDoc(
        pilot_id=inv.pilot_id,
        month=inv.month,
        revision=inv.revision,
        final=inv.final,
        currency=inv.currency,
        list_total=Decimal(inv.list_total),
        discount_total=Decimal(inv.discount_total),
        charged_total=Decimal(inv.charged_total),
        lines=tuple(lines),
        prices=inv.prices,
        rated_at=inv.rated_at,
        rated_by=inv.rated_by,
        reason=inv.reason,
    )
