"""Read-only views of metered usage for the operations TUI: a month at a glance, and its shape.

Why this exists: :func:`ngc_pilot.metering.usage_summary` gives totals with
their span (what ``ngc-pilot usage`` needs); the Usage & billing screen also
plots how one tenant's use moved through a month and lists every tenant of
that month, billed or not, and must do so quickly on a month of hourly
records for a hundred tenants.  Each function here is one or two aggregate
queries; no usage row travels to Python one by one.

* :func:`usage_series` sums one tenant's records per metric and *hour* of the
  month in SQL (a record belongs to the hour its window starts in; windows of
  an hour or less are therefore exact, longer ones land in their first hour),
  and the caller gets both the hourly and the daily series.
* :func:`month_usage` totals every tenant's use of the month per metric, and
  :func:`month_tenants` lists the tenants to show for it: every tenant row,
  plus any pilot with usage or an invoice in that month.
* :func:`data_span` says which months hold usage or invoices, so the screen
  opens on a month with data and can say what is missing.

Deliberately not here: rating and money (``ngc_pilot.billing``), metering
(``ngc_pilot.metering``), anything about Textual.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import String, func, select, union
from sqlmodel import Session, col

from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.metering import quantize
from ngc_pilot.models import Application, Invoice, Pilot, Tenant, UsageRecord
from policies.rating import Month
from provisioner.usage import METRICS


def month_bounds(month: Month) -> tuple[datetime, datetime]:
    """The month as [start, end) in UTC."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    return start, start + timedelta(days=month.days)


@dataclass(frozen=True)
class UsageSeries:
    """One tenant's metered use in one month, per metric: every hour and every day."""

    pilot_id: str
    month: str  # YYYY-MM
    hourly: dict[str, tuple[Decimal, ...]]  # metric -> one value per hour of the month
    daily: dict[str, tuple[Decimal, ...]]  # metric -> one value per day of the month
    windows: int  # records summed

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metrics with any record this month, in the metering's order."""
        return tuple(m for m in METRICS if m in self.hourly)

    def total(self, metric: str) -> Decimal:
        return sum(self.daily.get(metric, ()), Decimal(0))


def _hour_key(session: Session) -> object:
    """SQL for 'YYYY-MM-DD HH' (UTC) of a record's window start, on this database."""
    start = col(UsageRecord.window_start)
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", start), "YYYY-MM-DD HH24")
    # SQLite keeps the UTC timestamp as text 'YYYY-MM-DD HH:MM:SS.ffffff' (ngc_pilot.db).
    return func.substr(start, 1, 13, type_=String)


def usage_series(session: Session, pilot_id: str, month: Month) -> UsageSeries:
    """Per metric, the tenant's usage in each hour and each day of ``month`` (zeros included)."""
    start, end = month_bounds(month)
    key = _hour_key(session)
    query = (
        select(UsageRecord.metric, key, func.sum(UsageRecord.quantity), func.count())
        .where(
            UsageRecord.pilot_id == pilot_id,
            col(UsageRecord.window_start) >= start,
            col(UsageRecord.window_start) < end,
        )
        .group_by(UsageRecord.metric, key)
    )
    hours = month.hours
    hourly: dict[str, list[Decimal]] = {}
    windows = 0
    for metric, hour, total, count in session.execute(query):
        at = datetime.strptime(str(hour), "%Y-%m-%d %H").replace(tzinfo=UTC)
        index = int((at - start).total_seconds()) // 3600
        if not 0 <= index < hours:  # pragma: no cover - the WHERE clause keeps them inside
            continue
        series = hourly.setdefault(metric, [Decimal(0)] * hours)
        series[index] += Decimal(str(total or 0))
        windows += int(count)
    daily = {
        metric: tuple(sum(values[d * 24 : d * 24 + 24], Decimal(0)) for d in range(month.days))
        for metric, values in hourly.items()
    }
    return UsageSeries(
        pilot_id, str(month), {m: tuple(v) for m, v in hourly.items()}, daily, windows
    )


@dataclass(frozen=True)
class MonthTenant:
    pilot_id: str
    name: str
    tenant_state: str | None  # None: no tenant row (usage or an invoice only)


def month_tenants(
    session: Session, month: Month, with_usage: Iterable[str] = ()
) -> list[MonthTenant]:
    """Every tenant, every pilot with an invoice in ``month`` and every pilot in
    ``with_usage`` (the keys of :func:`month_usage`), by pilot id."""
    invoiced = select(Invoice.pilot_id).where(Invoice.month == str(month))
    ids = set(
        session.execute(
            union(invoiced, select(Tenant.pilot_id), select(KubeTenant.pilot_id))
        ).scalars()
    )
    ids.update(with_usage)
    if not ids:
        return []
    # A pilot with only a namespace shows its namespace tenant's state.
    query = (
        select(Pilot.id, Application.name, func.coalesce(Tenant.state, KubeTenant.state))
        .join(Application, col(Application.id) == col(Pilot.application_id))
        .outerjoin(Tenant, col(Tenant.pilot_id) == col(Pilot.id))
        .outerjoin(KubeTenant, col(KubeTenant.pilot_id) == col(Pilot.id))
        .where(col(Pilot.id).in_(sorted(ids)))
        .order_by(col(Pilot.id))
    )
    return [MonthTenant(pid, name, state) for pid, name, state in session.execute(query)]


@dataclass(frozen=True)
class DataSpan:
    """Which months hold anything the Usage & billing screen shows."""

    first_window: datetime | None  # the earliest metered window start
    last_window: datetime | None  # the latest metered window start
    invoice_months: tuple[str, ...]  # months with a stored invoice, oldest first
    metered_months: tuple[str, ...]  # months with usage records, oldest first

    @property
    def latest_month(self) -> str | None:
        months = sorted({*self.invoice_months, *self.metered_months})
        return months[-1] if months else None


def data_span(session: Session) -> DataSpan:
    first, last = session.execute(
        select(func.min(UsageRecord.window_start), func.max(UsageRecord.window_start))
    ).one()
    invoice_months = tuple(
        session.execute(select(Invoice.month).distinct().order_by(Invoice.month)).scalars()
    )
    metered: list[str] = []
    if first is not None and last is not None:
        # Month by month between the ends: one indexed probe each (a pilot lasts months).
        month = Month(first.year, first.month)
        final = Month(last.year, last.month)
        while month <= final:
            start, end = month_bounds(month)
            found = session.execute(
                select(UsageRecord.id)
                .where(col(UsageRecord.window_start) >= start, col(UsageRecord.window_start) < end)
                .limit(1)
            ).first()
            if found is not None:
                metered.append(str(month))
            month = month.next()
    return DataSpan(first, last, invoice_months, tuple(metered))


def month_usage(session: Session, month: Month) -> dict[str, dict[str, Decimal]]:
    """Pilot -> metric -> total quantity of the windows starting in ``month``.

    The totals the screen lists beside the invoices, in one ``GROUP BY``: only
    the sum (``metering.usage_summary`` also counts windows and finds the span,
    which doubles the time on a month of hourly records).  On SQLite the sum is
    a float, exact to the 6 stored places for any realistic month; invoices do
    their own exact sums (``ngc_pilot.billing``).
    """
    start, end = month_bounds(month)
    query = (
        select(UsageRecord.pilot_id, UsageRecord.metric, func.sum(UsageRecord.quantity))
        .where(col(UsageRecord.window_start) >= start, col(UsageRecord.window_start) < end)
        .group_by(UsageRecord.pilot_id, UsageRecord.metric)
    )
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for pilot, metric, total in session.execute(query):
        out[pilot][metric] = quantize(Decimal(str(total or 0)))
    return dict(out)
