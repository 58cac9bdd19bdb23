"""Usage and shadow invoices for every interface: a month's usage, rating, what-if pricing.

Reads the metered usage and the invoice revisions; rating writes new
revisions through :mod:`ngc_pilot.billing` (audited).  A price list that
cannot be read is reported beside the stored data, not instead of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ngc_pilot import billing, metering, usage_views
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.settings import MeteringSettings
from policies.prices import PriceList, load_prices
from policies.problems import InputProblems, Problem


@dataclass(frozen=True)
class UsageTenant:
    """One tenant in a month: its metered totals and its latest shadow invoice (if rated)."""

    pilot_id: str
    name: str
    tenant_state: str | None  # None: no tenant row (only usage or an invoice)
    usage: dict[str, Decimal]  # metric -> total quantity in the month
    invoice: billing.InvoiceDoc | None


@dataclass(frozen=True)
class UsageMonth:
    """What the Usage & billing screen shows for a month, and what is missing."""

    month: str
    tenants: tuple[UsageTenant, ...]
    span: usage_views.DataSpan
    currency: str
    prices_source: str  # the price list invoices are rated with now
    discount: str  # the price list's pilot discount, in words ("" if it has none)
    prices_problem: str | None = None  # why the price list cannot be read (nothing rates then)

    @property
    def invoices(self) -> tuple[billing.InvoiceDoc, ...]:
        return tuple(t.invoice for t in self.tenants if t.invoice is not None)

    @property
    def metered(self) -> bool:
        return any(t.usage for t in self.tenants)

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """(list, discount, charged) over the month's invoices."""
        docs = self.invoices
        return (
            sum((d.list_total for d in docs), Decimal("0.00")),
            sum((d.discount_total for d in docs), Decimal("0.00")),
            sum((d.charged_total for d in docs), Decimal("0.00")),
        )


@dataclass(frozen=True)
class WhatIfView:
    """The month's usage priced with the current and another price list (nothing written)."""

    month: str
    current_source: str
    other_source: str
    currency: str
    other_currency: str
    rows: tuple[billing.WhatIf, ...]

    def totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        """field -> (current, other) summed over tenants: list, discount, charged."""
        out = {}
        for name in ("list_total", "discount_total", "charged_total"):
            out[name] = (
                sum((getattr(r.current, name) for r in self.rows), Decimal("0.00")),
                sum((getattr(r.other, name) for r in self.rows), Decimal("0.00")),
            )
        return out


class UsageArea(FacadeBase):
    def prices(self, path: Path | None = None) -> PriceList:
        """The price list at ``path``, or the configured one (the shipped file if none)."""
        configured = self.settings.policy.prices_file if self.settings else None
        target = path if path is not None else configured
        try:
            return load_prices(target)
        except InputProblems as exc:
            raise InputError(exc.problems) from exc

    def usage_month(self, month: str | None = None) -> UsageMonth:
        """Every tenant of ``month`` (default: the latest with usage or invoices, else this
        month) with its metered totals and latest invoice revision; rates nothing."""
        try:
            prices: PriceList | None = self.prices()
            problem = None
        except InputError as exc:  # the stored usage and invoices are still worth showing
            prices, problem = None, "; ".join(str(p) for p in exc.problems)
        with session_scope(self.engine) as session:
            span = usage_views.data_span(session)
            label = month or span.latest_month or utcnow().strftime("%Y-%m")
            m = billing.parse_month(label, "month")
            usage = usage_views.month_usage(session, m)
            tenants = usage_views.month_tenants(session, m, usage)
            docs = {d.pilot_id: d for d in billing.invoices(session, str(m))}
        rows = tuple(
            UsageTenant(
                t.pilot_id, t.name, t.tenant_state, usage.get(t.pilot_id, {}), docs.get(t.pilot_id)
            )
            for t in tenants
        )
        pilot = prices.discounts.pilot if prices is not None else None
        discount = (
            f"pilot discount {pilot.percent.normalize():f} % "
            f"{pilot.from_} → {pilot.until - timedelta(days=1)}"
            if pilot is not None
            else ""
        )
        currency = (
            prices.currency if prices is not None else next((d.currency for d in docs.values()), "")
        )
        source = (prices.source if prices is not None else None) or str(
            (self.settings.policy.prices_file if self.settings else None) or "prices.yaml"
        )
        return UsageMonth(str(m), rows, span, currency, source, discount, problem)

    def usage_series(self, pilot_id: str, month: str) -> usage_views.UsageSeries:
        with session_scope(self.engine) as session:
            return usage_views.usage_series(session, pilot_id, billing.parse_month(month, "month"))

    def rate_month(self, month: str) -> list[billing.InvoiceDoc]:
        """Rate ``month`` with the configured price list (a new revision only where something
        changed; audited); a changed price that invoices already used is refused."""
        return billing.rate_month(self.engine, self.prices(), month, actor=self.actor)

    def what_if(self, month: str, other: Path) -> WhatIfView:
        """The month's usage priced with the configured list and with ``other``; writes nothing."""
        current = self.prices()
        alternative = self.prices(other)
        rows = billing.what_if(self.engine, month, current, alternative)
        return WhatIfView(
            str(billing.parse_month(month, "month")),
            current.source or "prices.yaml",
            alternative.source or str(other),
            current.currency,
            alternative.currency,
            tuple(rows),
        )

    # ------------------------------------------------- metering and invoices, as asked for

    def meter(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> metering.MeterReport:
        """One metering cycle (or exactly the complete windows of ``[since, until)``)."""
        settings = self.settings.metering if self.settings else MeteringSettings()
        return metering.meter(self._prov(), settings, since=since, until=until)

    def usage_rows(
        self,
        pilot_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The usage stored per tenant and metric (what invoices are rated from)."""
        from ngc_pilot.kube_tenant_models import KubeTenant
        from ngc_pilot.models import Tenant

        with session_scope(self.engine) as session:
            if (
                pilot_id is not None
                and session.get(Tenant, pilot_id) is None
                and session.get(KubeTenant, pilot_id) is None
            ):
                raise NotFoundError(
                    [
                        Problem(
                            "usage",
                            billing.TENANT,
                            pilot_id,
                            "no tenant for this pilot; see `ngc-pilot tenants`",
                        )
                    ]
                )
            return metering.usage_summary(session, pilot_id=pilot_id, since=since, until=until)

    def month_label(self, text: str) -> str:
        """``text`` as a billing month (YYYY-MM), or a problem about the month."""
        return str(billing.parse_month(text))

    def invoice_docs(self, month: str, pilot_ids: Sequence[str] = ()) -> list[billing.InvoiceDoc]:
        """The month's latest invoice revision per tenant; rates nothing."""
        with session_scope(self.engine) as session:
            return billing.invoices(session, month, list(pilot_ids))

    def rate_invoices(
        self,
        prices: PriceList,
        month: str,
        pilot_ids: Sequence[str] = (),
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> list[billing.InvoiceDoc]:
        """Rate ``month`` with ``prices`` (see :func:`ngc_pilot.billing.rate_month`)."""
        return billing.rate_month(
            self.engine,
            prices,
            month,
            actor=self.actor,
            pilot_ids=list(pilot_ids),
            force=force,
            reason=reason,
        )

    def what_if_rows(
        self, month: str, current: PriceList, other: PriceList, pilot_ids: Sequence[str] = ()
    ) -> list[billing.WhatIf]:
        """The month's usage priced with both lists, tenant by tenant; writes nothing."""
        return billing.what_if(self.engine, month, current, other, list(pilot_ids))

    def invoices_pdf(self, docs: Sequence[billing.InvoiceDoc], month: str) -> bytes:
        """The invoices as one PDF, a page per tenant, stamped with the time now."""
        from ngc_pilot import invoice_pdf

        return invoice_pdf.render(list(docs), month=month, generated_at=utcnow())
