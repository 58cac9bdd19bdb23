"""How usage and shadow invoices are drawn: amounts, quantities, invoice lines, what-if rows.

Pure functions from the service layer's view objects to table cells and Rich
text, so the Usage & billing screen only arranges them and the tests can read
them.  Money is shown from the stored ``Decimal`` with its two places and a
thousands separator; nothing is recomputed here except sums of what the
invoices already hold (the what-if's per-item view adds up its own lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

if TYPE_CHECKING:
    from ngc_pilot.billing import InvoiceDoc
    from ngc_pilot.facade import UsageMonth, UsageTenant, WhatIfView
    from policies.rating import Line, Rated

# Metric -> (short label for columns and keys, unit of the plot's axis).
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "vcpu_hours": ("vCPU", "vCPU-hours"),
    "ram_gb_hours": ("RAM", "GB-hours of RAM"),
    "disk_gb_hours": ("disk", "GB-hours of local disk"),
    "volume_gb_hours": ("volumes", "GB-hours of volumes"),
    "gpu_hours": ("GPU", "GPU-hours"),
}
METRICS: tuple[str, ...] = tuple(METRIC_LABELS)
# Columns of the month's tenant table: metered totals (the priced metrics and local disk).
USAGE_COLUMNS = (
    ("vcpu_hours", "vCPU-h"),
    ("ram_gb_hours", "RAM GB-h"),
    ("volume_gb_hours", "vol GB-h"),
    ("gpu_hours", "GPU-h"),
)  # local disk is metered but not priced: the plot shows it (m)
ITEM_LABELS = {
    "vcpu_hours": "Compute (vCPU)",
    "ram_gb_hours": "Memory (RAM)",
    "storage_tb_months": "Storage (volumes)",
    "gpu_hours": "GPU",
    "base_fee": "Base fee per project",
}


def money(value: Decimal) -> str:
    """An amount with its two places and thousands separators: 16,728.62."""
    return f"{value:,.2f}"


def quantity(value: Decimal) -> str:
    """A quantity as exact as stored, without trailing zeros: 3,120 / 0.419355."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.6f}".rstrip("0")


def unit_price(value: Decimal) -> str:
    text = f"{value:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{int(whole):,}.{fraction.ljust(2, '0')}"


def right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _period(line: Line) -> str:
    until = line.period_until - timedelta(days=1)  # the stored end is exclusive
    return f"{line.period_from:%m-%d}–{until:%m-%d}"


# ------------------------------------------------------------------ the month


def tenant_cells(row: UsageTenant) -> list[Any]:
    """pilot, name, the month's metered totals, then the invoice's list and charged amounts."""
    doc = row.invoice
    cells: list[Any] = [row.pilot_id, short(row.name, 18)]
    for metric, _ in USAGE_COLUMNS:
        value = row.usage.get(metric)
        cells.append(right(quantity(value.quantize(Decimal("0.1"))) if value is not None else "—"))
    if doc is None:
        cells += [right("not rated", "yellow"), right("")]
    else:
        cells += [right(money(doc.list_total)), right(money(doc.charged_total), "bold")]
    return cells


def month_status(view: UsageMonth) -> Text:
    """What the month holds, its totals, and what is missing with the command that fills it."""
    text = Text()
    text.append(f"Month {view.month}", style="bold")
    text.append("  ([ ] previous/next, g: go to)  ", style="dim")
    invoiced = len(view.invoices)
    text.append(f"{len(view.tenants)} tenants, {invoiced} invoiced")
    if invoiced:
        total, discount, charged = view.totals()
        text.append(f" · list {money(total)} {view.currency}")
        text.append(f" − discount {money(discount)}", style="green")
        text.append(f" = charged {money(charged)} {view.currency}", style="bold")
    text.append("\n")
    span = view.span
    if span.first_window is None:
        text.append("Metered: nothing yet", style="yellow")
    else:
        months = ", ".join(span.metered_months)
        text.append(
            f"Metered: {span.first_window:%Y-%m-%d %H:%M} → {span.last_window:%Y-%m-%d %H:%M} UTC "
            f"(months {months})",
            style="dim",
        )
    text.append(
        f" · invoices: {', '.join(span.invoice_months) or 'none'}"
        f" · prices: {Path(view.prices_source).name}"
        + (f", {view.discount}" if view.discount else ""),
        style="dim",
    )
    if view.prices_problem:
        text.append(f"\nThe price list cannot be used: {view.prices_problem}", style="bold red")
    missing = missing_text(view)
    if missing.plain:
        text.append("\n")
        text.append_text(missing)
    return text


def missing_text(view: UsageMonth) -> Text:
    """What is missing for the month, and which command fills it (empty when nothing is)."""
    text = Text(style="yellow")
    if not view.tenants:
        text.append(
            "No tenants: commit a selection (2) and provision the pilots' tenants (3); "
            "then `ngc-pilot meter` records their usage."
        )
    elif view.span.first_window is None:
        text.append(
            "Nothing is metered yet: `ngc-pilot meter` (or the meter job of `ngc-pilot serve`) "
            "records usage from the cloud."
        )
    elif not view.metered:
        text.append(
            f"No usage in {view.month}: it was metered in {', '.join(view.span.metered_months)} "
            f"(`ngc-pilot meter --since {view.month}-01` backfills windows)."
        )
    if view.metered and not view.invoices:
        text.append(
            f"{' ' if text.plain else ''}No shadow invoice for {view.month} yet: "
            f"`ngc-pilot invoice --month {view.month}` rates it (or R here)."
        )
    elif view.metered:
        unrated = [t.pilot_id for t in view.tenants if t.usage and t.invoice is None]
        if unrated:
            text.append(
                f"Not rated yet: {', '.join(unrated[:6])}{' …' if len(unrated) > 6 else ''}; "
                f"`ngc-pilot invoice --month {view.month}` (or R here)."
            )
    return text


# ---------------------------------------------------------------- the invoice

LINE_COLUMNS = (
    ("pos", "#", 2),
    ("item", "item", 50),
    ("version", "prices", 6),
    ("period", "period", 11),
    ("quantity", "quantity", 12),
    ("unit", "unit", 9),
    ("price", "unit price", 10),
    ("list", "list amount", 12),
    ("discount", "discount", 12),
    ("charged", "charged", 10),
)


def _item(line: Line) -> str:
    """The item in words: its description without the discount note (the columns show it)."""
    head, _, _ = line.description.partition(";")
    return head


def line_cells(line: Line) -> list[Any]:
    return [
        right(str(line.position)),
        short(_item(line), 50),
        line.price_version,
        _period(line),
        right(quantity(line.quantity)),
        line.unit,
        right(unit_price(line.unit_price)),
        right(money(line.list_amount)),
        right(f"−{money(line.discount)}" if line.discount else money(line.discount), "green"),
        right(money(line.charged), "bold"),
    ]


def discount_percent(doc: InvoiceDoc) -> str:
    """The share of the list total discounted, e.g. '100 %' (from the stored amounts)."""
    if not doc.list_total:
        return "0 %"
    share = (doc.discount_total * 100 / doc.list_total).quantize(Decimal("0.1"))
    return f"{share.normalize():f} %"


def total_cells(doc: InvoiceDoc) -> list[Any]:
    return [
        "",
        Text(f"Total ({doc.currency}), discount {discount_percent(doc)}", style="bold"),
        "",
        "",
        "",
        "",
        "",
        right(money(doc.list_total), "bold"),
        right(
            f"−{money(doc.discount_total)}" if doc.discount_total else money(doc.discount_total),
            "bold green",
        ),
        right(money(doc.charged_total), "bold"),
    ]


def invoice_title(doc: InvoiceDoc) -> str:
    versions = ", ".join(doc.versions) or "—"
    state = "final" if doc.final else "not final (the month is open)"
    return (
        f"Shadow invoice {doc.pilot_id} {doc.month} · revision {doc.revision}, {state} · "
        f"prices {versions} · rated {doc.rated_at:%Y-%m-%d %H:%M} by {doc.rated_by}"
        if doc.rated_at
        else f"Shadow invoice {doc.pilot_id} {doc.month} · revision {doc.revision}"
    )


# ------------------------------------------------------------------ what-if

WHAT_IF_TENANT_COLUMNS = (
    ("pilot", "pilot", 11),
    ("list_a", "list now", 10),
    ("list_b", "list other", 10),
    ("delta", "Δ list", 10),
    ("charged_a", "chg now", 8),
    ("charged_b", "chg other", 9),
)
WHAT_IF_ITEM_COLUMNS = (
    ("item", "item", 17),
    ("quantity", "quantity", 10),
    ("price", "price now→other", 15),
    ("list_a", "list now", 10),
    ("list_b", "list other", 10),
    ("delta", "Δ", 9),
)


def signed(value: Decimal) -> Text:
    style = "red" if value > 0 else "green" if value < 0 else "dim"
    return right(("+" if value > 0 else "") + money(value), style)


def what_if_tenant_cells(pilot_id: str, current: Rated, other: Rated) -> list[Any]:
    return [
        pilot_id,
        right(money(current.list_total)),
        right(money(other.list_total)),
        signed(other.list_total - current.list_total),
        right(money(current.charged_total)),
        right(money(other.charged_total), "bold"),
    ]


def what_if_total_cells(view: WhatIfView) -> list[Any]:
    totals = view.totals()
    list_a, list_b = totals["list_total"]
    charged_a, charged_b = totals["charged_total"]
    return [
        Text("Total", style="bold"),
        right(money(list_a), "bold"),
        right(money(list_b), "bold"),
        signed(list_b - list_a),
        right(money(charged_a), "bold"),
        right(money(charged_b), "bold"),
    ]


def _by_item(lines: Iterable[Line]) -> dict[str, tuple[Decimal, str, list[Decimal], Decimal]]:
    """item -> (quantity, unit, unit prices used, list amount), summed over segments."""
    out: dict[str, tuple[Decimal, str, list[Decimal], Decimal]] = {}
    for line in lines:
        q, unit, prices, amount = out.get(line.item, (Decimal(0), line.unit, [], Decimal("0.00")))
        if line.unit_price not in prices:
            prices = [*prices, line.unit_price]
        out[line.item] = (q + line.quantity, unit, prices, amount + line.list_amount)
    return out


def _prices(prices: Sequence[Decimal]) -> str:
    return " / ".join(unit_price(p) for p in prices) or "—"


def what_if_item_rows(current: Rated, other: Rated) -> list[tuple[str, list[Any]]]:
    """One row per invoice item: the same quantity priced now and with the other list."""
    a, b = _by_item(current.lines), _by_item(other.lines)
    rows = []
    for item in [*ITEM_LABELS, *sorted((set(a) | set(b)) - set(ITEM_LABELS))]:
        if item not in a and item not in b:
            continue
        qa, _, prices_a, list_a = a.get(item, (Decimal(0), "", [], Decimal("0.00")))
        qb, _, prices_b, list_b = b.get(item, (Decimal(0), "", [], Decimal("0.00")))
        rows.append(
            (
                item,
                [
                    short(ITEM_LABELS.get(item, item).replace(" per project", ""), 17),
                    right(quantity(qa if item in a else qb)),
                    right(f"{_prices(prices_a)}→{_prices(prices_b)}"),
                    right(money(list_a)),
                    right(money(list_b)),
                    signed(list_b - list_a),
                ],
            )
        )
    return rows
