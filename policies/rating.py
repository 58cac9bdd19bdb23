"""Rating: turn one tenant's usage in one month into shadow-invoice lines.

Why this exists: the money rules — which price applies when, how a month is
split, how amounts are rounded — must be one pure function that a unit test can
check to the øre, independent of how usage is stored.  ``ngc_pilot.billing``
aggregates usage in SQL and hands the sums to :func:`rate`.

Deliberately not here: reading usage, storing invoices, deciding revisions.

Conventions (documented once, here)
-----------------------------------
* **Segments.**  A month is cut at every price-version boundary and every
  discount boundary that falls inside it; each piece is a :class:`Segment`
  with one price version and one discount.  An item gets one line per segment
  in which it was used, so a month spanning two price versions gives one line
  per item per version.  A usage window belongs to the segment (and the month)
  in which it *starts*; windows are aligned to the hour, boundaries to
  midnight UTC, so no window straddles one.
* **Items.**  ``vcpu_hours`` (vCPU-hour), ``ram_gb_hours`` (GB-hour),
  ``gpu_hours`` (GPU-hour) are priced as metered.  Volume storage is metered
  in GB-hours and priced per TB-month: TB-months = GB-hours / 1000 / hours of
  the invoiced month (decimal TB, 10^12 bytes; the month's own hours, 672 to
  744, so one TB held all month is exactly one TB-month).  ``disk_gb_hours``
  (the servers' local root disks) is metered but has no price in the payment
  model, so it is not an invoice line; ``ngc-pilot meter`` shows it.
* **Base fee.**  Per project per month, prorated by the calendar days (UTC) in
  the segment on which the tenant existed for any part of the day, divided by
  the days of the month.
* **Rounding.**  Amounts are computed from the unrounded quantity (50
  significant digits), then each line's list amount is rounded half-up to the
  øre; the discount is the discount percentage of that rounded list amount,
  rounded half-up to the øre; charged = list − discount.  Totals are sums of
  the rounded lines, so an invoice always adds up.  The quantity printed for
  storage and the base fee is rounded half-up to 6 decimal places (the
  precision it is stored with); usage quantities already have 6 places.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from policies.prices import PriceList, PriceVersion

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class NoPriceError(ValueError):
    """A part of the month is not covered by any price version."""

    def __init__(self, period_from: date, period_until: date, prices: PriceList):
        self.period_from = period_from
        self.period_until = period_until
        super().__init__(
            f"no price version covers {period_from} until {period_until} "
            f"(the price list covers {prices.span()}); add a version that does"
        )


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` (e.g. ``2021-05``); raises ValueError otherwise."""
        match = _MONTH_RE.match(text.strip()) if isinstance(text, str) else None
        if (
            not match
            or not 1 <= int(match.group(2)) <= 12
            or not 1970 <= int(match.group(1)) <= 9998
        ):
            raise ValueError(f"not a month: {text!r}; write YYYY-MM, e.g. 2021-05")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def until(self) -> date:
        """The first day of the next month (exclusive end)."""
        return self.start + timedelta(days=self.days)

    @property
    def days(self) -> int:
        return _month_days(self.year, self.month)

    @property
    def hours(self) -> int:
        return self.days * 24

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@functools.lru_cache(maxsize=1024)
def _month_days(year: int, month: int) -> int:
    """Days in a month; cached, as rating asks it for every line of every tenant."""
    return calendar.monthrange(year, month)[1]


@dataclass(frozen=True)
class Segment:
    """A part of a month with one price version and one discount."""

    index: int
    period_from: date
    period_until: date  # exclusive
    version: PriceVersion
    discount_percent: Decimal = Decimal(0)
    discount_rule: str | None = None


@dataclass(frozen=True)
class Item:
    key: str  # the invoice line's item
    metric: str | None  # the usage metric it is rated from (None: the base fee)
    price: str  # the field of UnitPrices
    unit: str
    label: str


ITEMS: tuple[Item, ...] = (
    Item("vcpu_hours", "vcpu_hours", "vcpu_hour", "vCPU-hour", "Compute (vCPU)"),
    Item("ram_gb_hours", "ram_gb_hours", "ram_gb_hour", "GB-hour", "Memory (RAM)"),
    Item(
        "storage_tb_months", "volume_gb_hours", "storage_tb_month", "TB-month", "Storage (volumes)"
    ),
    Item("gpu_hours", "gpu_hours", "gpu_hour", "GPU-hour", "GPU"),
    Item("base_fee", None, "base_fee_month", "month", "Base fee per project"),
)
PRICED_METRICS: tuple[str, ...] = tuple(i.metric for i in ITEMS if i.metric)
UNPRICED_METRICS: tuple[str, ...] = ("disk_gb_hours",)


@dataclass(frozen=True)
class Line:
    position: int
    item: str
    description: str
    price_version: str
    period_from: date
    period_until: date
    quantity: Decimal
    unit: str
    unit_price: Decimal
    list_amount: Decimal
    discount: Decimal
    charged: Decimal

    def key(self) -> tuple[Any, ...]:
        """What makes two lines the same charge (the description's wording does not)."""
        return (
            self.item,
            self.price_version,
            self.period_from,
            self.period_until,
            self.quantity.quantize(MICRO),
            self.unit,
            self.unit_price.quantize(MICRO),
            self.list_amount.quantize(CENT),
            self.discount.quantize(CENT),
            self.charged.quantize(CENT),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "item": self.item,
            "description": self.description,
            "price_version": self.price_version,
            "period_from": self.period_from.isoformat(),
            "period_until": self.period_until.isoformat(),
            "quantity": str(self.quantity),
            "unit": self.unit,
            "unit_price": str(self.unit_price),
            "list_amount": str(self.list_amount),
            "discount": str(self.discount),
            "charged": str(self.charged),
        }


@dataclass(frozen=True)
class Rated:
    """One tenant's rated month: the lines, their totals, the versions used."""

    month: str
    currency: str
    lines: tuple[Line, ...]
    versions: dict[str, str] = field(default_factory=dict)  # version id -> digest

    @property
    def list_total(self) -> Decimal:
        return self._totals()[0]

    @property
    def discount_total(self) -> Decimal:
        return self._totals()[1]

    @property
    def charged_total(self) -> Decimal:
        return self._totals()[2]

    def _totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """(list, discount, charged) summed over the lines once; kept on the instance."""
        known = self.__dict__.get("_sums")
        if known is None:
            zero = Decimal("0.00")
            known = (
                sum((line.list_amount for line in self.lines), zero),
                sum((line.discount for line in self.lines), zero),
                sum((line.charged for line in self.lines), zero),
            )
            self.__dict__["_sums"] = known  # frozen: set beside the fields, not through them
        return known


def segments(prices: PriceList, month: Month) -> list[Segment]:
    """The month cut at every version and discount boundary inside it, in order.

    Raises :class:`NoPriceError` if some day of the month has no price version.
    """
    cuts = {month.start, month.until}
    for version in prices.versions:
        cuts.update(d for d in (version.valid_from, version.valid_until) if d is not None)
    pilot = prices.discounts.pilot
    if pilot is not None:
        cuts.update((pilot.from_, pilot.until))
    inside = sorted(d for d in cuts if month.start <= d <= month.until)
    out: list[Segment] = []
    for start, until in zip(inside, inside[1:], strict=False):
        version = prices.version_at(start)
        if version is None:
            raise NoPriceError(start, until, prices)
        percent, rule = (
            (pilot.percent, "pilot")
            if pilot is not None and pilot.applies(start)
            else (Decimal(0), None)
        )
        out.append(Segment(len(out), start, until, version, percent, rule))
    return out


def days_present(
    exists_from: date | None, exists_until: date | None, period_from: date, period_until: date
) -> int:
    """Calendar days of [period_from, period_until) on which something existed.

    ``exists_from`` is the first day it existed (for any part of it); ``exists_until``
    the first day it no longer existed at all (None: still exists).
    """
    if exists_from is None:
        return 0
    start = max(exists_from, period_from)
    end = period_until if exists_until is None else min(exists_until, period_until)
    return max(0, (end - start).days)


def _half_up(value: Decimal, exponent: Decimal) -> Decimal:
    return value.quantize(exponent, rounding=ROUND_HALF_UP)


def rate(
    prices: PriceList,
    month: Month,
    usage: Mapping[tuple[str, int], Decimal],
    present_days: Mapping[int, int],
    segs: list[Segment] | None = None,
) -> Rated:
    """Rate one tenant's month.

    ``usage`` maps (metric, segment index) to the summed metered quantity;
    ``present_days`` maps segment index to the days the tenant existed in it
    (for the base fee).  Items without usage in a segment get no line.
    """
    segs = segments(prices, month) if segs is None else segs
    return MonthRater(prices, month, segs).rate(usage, present_days)


@dataclass(frozen=True)
class _Cell:
    """What one item's line in one segment has in common for every tenant."""

    item: Item
    seg: Segment
    unit_price: Decimal
    discount_note: str  # "; pilot discount 100 %" or ""


class MonthRater:
    """:func:`rate` for many tenants of one month: the same lines, digit for digit.

    The part of each line that does not depend on the tenant (the item's unit
    price in the segment, the discount wording) is worked out once per (item,
    segment) rather than once per tenant, and a base-fee line is computed once
    per number of days present; only the usage amounts are rated per tenant.
    """

    def __init__(self, prices: PriceList, month: Month, segs: list[Segment]):
        self.prices = prices
        self.month = month
        self.label = str(month)
        self.cells = [
            _Cell(
                item,
                seg,
                canonical_price(seg.version.prices.get(item.price)),
                f"; {seg.discount_rule} discount {_plain(seg.discount_percent)} %"
                if seg.discount_rule
                else "",
            )
            for item in ITEMS
            for seg in segs
        ]
        self._base_fees: dict[tuple[int, int], tuple[Decimal, Decimal, Decimal, str]] = {}

    def rate(
        self, usage: Mapping[tuple[str, int], Decimal], present_days: Mapping[int, int]
    ) -> Rated:
        month = self.month
        lines: list[Line] = []
        used: dict[str, str] = {}
        with localcontext() as ctx:
            ctx.prec = 50
            for cell in self.cells:
                item, seg = cell.item, cell.seg
                if item.metric is not None:
                    metered = usage.get((item.metric, seg.index))
                    if metered is None:
                        continue
                    if item.key == "storage_tb_months":
                        exact = Decimal(metered) / (1000 * month.hours)
                        note = f"{_plain(Decimal(metered))} GB-hours / 1000 / {month.hours} h"
                    else:
                        exact = Decimal(metered)
                        note = ""
                    list_amount = _half_up(exact * cell.unit_price, CENT)
                    discount = _half_up(list_amount * seg.discount_percent / 100, CENT)
                    quantity = _half_up(exact, MICRO)
                    description = item.label + (f", {note}" if note else "") + cell.discount_note
                else:
                    days = present_days.get(seg.index, 0)
                    if days <= 0:
                        continue
                    quantity, list_amount, discount, description = self._base_fee(cell, days)
                lines.append(
                    Line(
                        position=len(lines) + 1,
                        item=item.key,
                        description=description,
                        price_version=seg.version.id,
                        period_from=seg.period_from,
                        period_until=seg.period_until,
                        quantity=quantity,
                        unit=item.unit,
                        unit_price=cell.unit_price,
                        list_amount=list_amount,
                        discount=discount,
                        charged=list_amount - discount,
                    )
                )
                used[seg.version.id] = seg.version.digest
        return Rated(self.label, self.prices.currency, tuple(lines), used)

    def _base_fee(self, cell: _Cell, days: int) -> tuple[Decimal, Decimal, Decimal, str]:
        """(quantity, list amount, discount, description) of a base-fee line; cached."""
        key = (cell.seg.index, days)
        known = self._base_fees.get(key)
        if known is None:
            month = self.month
            exact = Decimal(days) / month.days  # the caller's context: 50 digits
            list_amount = _half_up(exact * cell.unit_price, CENT)
            discount = _half_up(list_amount * cell.seg.discount_percent / 100, CENT)
            note = f"{days} of {month.days} days"
            known = self._base_fees[key] = (
                _half_up(exact, MICRO),
                list_amount,
                discount,
                f"{cell.item.label}, {note}{cell.discount_note}",
            )
        return known


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def money(value: Decimal) -> str:
    """12345.6 -> '12,345.60': two places, comma thousands — the same in every output."""
    return f"{Decimal(value):,.2f}"


def canonical_price(value: Decimal) -> Decimal:
    """A unit price with at least 2 and at most 6 decimal places: 0.3 -> 0.30, 0.045000 -> 0.045.

    The same price reads back from the database with 6 places; one spelling
    keeps stored and freshly rated lines identical in every output.
    """
    trimmed = Decimal(value).quantize(MICRO).normalize()
    return trimmed.quantize(CENT) if trimmed.as_tuple().exponent > -2 else trimmed  # type: ignore[operator]
