"""``ngc-pilot invoice`` and ``ngc-pilot prices``: shadow invoices and the price list.

``invoice`` rates the month first (writing a revision only where something
changed) and then shows it; ``--no-rate`` only shows what is stored;
``--prices OTHER.yaml`` shows the same usage priced both ways and writes
nothing.  Heavy modules are imported inside the commands so that the CLI (and
the TUI's launch) imports little.

One piece (over 400 lines) because ``invoice`` and ``prices`` share the
month, price-list and output-format handling (table, CSV, JSON, PDF).
"""

from __future__ import annotations

import csv
import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, worded_as
from ngc_pilot.errors import InputError
from policies.problems import Problem

if TYPE_CHECKING:
    from ngc_pilot.facade import InvoiceDoc, WhatIf
    from policies.prices import PriceList


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    pdf = "pdf"


LINE_COLUMNS = (
    "pilot",
    "month",
    "revision",
    "final",
    "currency",
    "position",
    "item",
    "description",
    "price_version",
    "period_from",
    "period_until",
    "quantity",
    "unit",
    "unit_price",
    "list_amount",
    "discount",
    "charged",
)


def _load_prices(path: Path | None, field: str) -> PriceList:
    from policies.prices import load_prices
    from policies.problems import InputProblems

    try:
        return load_prices(path)
    except InputProblems as exc:
        raise InputError(exc.problems) from exc
    except OSError as exc:  # pragma: no cover - read_text reports unreadable files itself
        raise InputError([Problem("command line", field, str(path), str(exc))]) from exc


def _billing_options() -> dict[str, str]:
    from ngc_pilot.facade.fields import MONTH, TENANT

    return {MONTH: "--month", TENANT: "--tenant"}


@worded_as(_billing_options)
def invoice(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (e.g. 2021-05).")],
    tenants: Annotated[
        list[str] | None,
        typer.Option("--tenant", help="Only this pilot's tenant (repeatable; default: all)."),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="table (default), json, csv or pdf.")
    ] = Format.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (default: stdout; for pdf ./invoices-MONTH.pdf).",
            dir_okay=False,
        ),
    ] = None,
    other_prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            help="What-if: price the same usage with this price list too, side by side; writes nothing.",
        ),
    ] = None,
    do_rate: Annotated[
        bool,
        typer.Option(
            "--rate/--no-rate",
            help="Rate the month first, storing a new revision where anything changed (default), "
            "or only show what is stored.",
        ),
    ] = True,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Accept a changed price that invoices already used (audited; those invoices get "
            "new revisions).",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why this rating, recorded on new revisions.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Shadow invoices of a month: rate usage at list price, show lines and totals."""
    obj: AppContext = ctx.obj
    services = obj.services
    if as_json:
        fmt = Format.json
    label = services.month_label(month)
    pilots = list(tenants or [])
    current = _load_prices(obj.settings.policy.prices_file, "policy.prices_file")
    if other_prices is not None:
        if fmt is Format.pdf:
            raise InputError(
                [
                    Problem(
                        "command line",
                        "--format",
                        "pdf",
                        "a what-if comparison is shown as table, json or csv; allowed with --prices: "
                        "table, json, csv",
                    )
                ]
            )
        other = _load_prices(other_prices, "--prices")
        rows = services.what_if_rows(label, current, other, pilots)
        _emit_what_if(obj, rows, label, current, other, fmt, output)
        return
    if do_rate:
        docs = services.rate_invoices(current, label, pilots, force=force, reason=reason)
        written = [d for d in docs if d.written]
        elsewhere = sorted({f"{d.pilot_id} {d.month}" for d in written if d.month != label})
        if written:
            obj.err.print(
                f"rated {label}: {sum(1 for d in written if d.month == label)} new revision(s)"
                + (f"; also re-rated {', '.join(elsewhere)}" if elsewhere else "")
            )
        docs = [d for d in docs if d.month == label]
    else:
        docs = services.invoice_docs(label, pilots)
    _emit(obj, docs, label, fmt, output)


def _write_text(obj: AppContext, text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    output.write_text(text, encoding="utf-8")
    obj.err.print(f"wrote {output}")


def _emit(
    obj: AppContext, docs: list[InvoiceDoc], month: str, fmt: Format, output: Path | None
) -> None:
    if fmt is Format.json:
        data = {"month": month, "invoices": [d.as_dict() for d in docs]}
        if output is None:
            emit_json(data)
        else:
            import json

            _write_text(obj, json.dumps(data, indent=2, ensure_ascii=False) + "\n", output)
        return
    if fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(LINE_COLUMNS)
        for d in docs:
            for line in d.lines:
                values = line.as_dict()
                writer.writerow(
                    [d.pilot_id, d.month, d.revision, str(d.final).lower(), d.currency]
                    + [values[c] for c in LINE_COLUMNS[5:]]
                )
        _write_text(obj, buffer.getvalue(), output)
        return
    if fmt is Format.pdf:
        target = output or Path(f"invoices-{month}.pdf")
        target.write_bytes(obj.services.invoices_pdf(docs, month))
        obj.err.print(f"wrote {target} ({len(docs)} page(s))")
        return
    _table(obj, docs, month, output)


def _table(obj: AppContext, docs: list[InvoiceDoc], month: str, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = (
        obj.out
        if output is None
        else Console(file=io.StringIO(), width=180, highlight=False, markup=False)
    )
    if not docs:
        out.print(f"No invoices for {month}.")
    summary = Table(
        "pilot",
        "project",
        "rev",
        "final",
        "list",
        "discount",
        "charged",
        "currency",
        title=f"Shadow invoices {month}",
    )
    for d in docs:
        summary.add_row(
            d.pilot_id,
            d.project,
            str(d.revision),
            "yes" if d.final else "no",
            _m(d.list_total),
            _m(d.discount_total),
            _m(d.charged_total),
            d.currency,
        )
    if docs:
        summary.add_row(
            "total",
            "",
            "",
            "",
            _m(sum((d.list_total for d in docs), 0)),
            _m(sum((d.discount_total for d in docs), 0)),
            _m(sum((d.charged_total for d in docs), 0)),
            docs[0].currency,
            style="bold",
        )
        out.print(summary)
    for d in docs:
        lines = Table(
            "#",
            "item",
            "period",
            "quantity",
            "unit",
            "unit price",
            "list",
            "discount",
            "charged",
            "version",
            title=f"{d.pilot_id} {d.month} revision {d.revision}"
            + (f" — {d.reason}" if d.reason else ""),
        )
        for line in d.lines:
            lines.add_row(
                str(line.position),
                line.description,
                _period(line.period_from, line.period_until),
                str(line.quantity),
                line.unit,
                str(line.unit_price),
                _m(line.list_amount),
                _m(line.discount),
                _m(line.charged),
                line.price_version,
            )
        out.print(lines)
        if d.list_total > 0 and d.charged_total == 0:
            out.print("  Pilot discount 100 % — nothing is charged.")
    if output is not None:
        _write_text(obj, out.file.getvalue(), output)  # type: ignore[attr-defined]


def _m(value: Any) -> str:
    from policies.rating import money

    return money(value)


def _period(start: Any, until: Any) -> str:
    from datetime import timedelta

    return f"{start} – {until - timedelta(days=1)}"


def _emit_what_if(
    obj: AppContext,
    rows: list[WhatIf],
    month: str,
    current: PriceList,
    other: PriceList,
    fmt: Format,
    output: Path | None,
) -> None:
    if fmt is Format.json:
        data = {
            "month": month,
            "current_prices": {"source": current.source, "digest": current.digest},
            "other_prices": {"source": other.source, "digest": other.digest},
            "tenants": [r.as_dict() for r in rows],
        }
        if output is None:
            emit_json(data)
        else:
            import json

            _write_text(obj, json.dumps(data, indent=2, ensure_ascii=False) + "\n", output)
        return
    paired = [(r, _pair_lines(r)) for r in rows]
    if fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        sides = ("price_version", "unit_price", "list_amount", "discount", "charged")
        writer.writerow(
            ["pilot", "item", "period_from", "period_until", "quantity"]
            + [f"current_{s}" for s in sides]
            + [f"other_{s}" for s in sides]
        )
        for r, pairs in paired:
            for key, a, b in pairs:
                item, start, until = key
                quantity = (a or b).quantity  # type: ignore[union-attr]
                writer.writerow(
                    [r.pilot_id, item, start, until, quantity]
                    + [str(getattr(a, s)) if a else "" for s in sides]
                    + [str(getattr(b, s)) if b else "" for s in sides]
                )
        _write_text(obj, buffer.getvalue(), output)
        return
    from rich.console import Console
    from rich.table import Table

    out = (
        obj.out
        if output is None
        else Console(file=io.StringIO(), width=180, highlight=False, markup=False)
    )
    out.print(
        f"What-if {month}: current {current.source} (sha256 {current.digest[:12]}) vs "
        f"other {other.source} (sha256 {other.digest[:12]}); nothing was written."
    )
    summary = Table(
        "pilot",
        "current list",
        "current discount",
        "current charged",
        "other list",
        "other discount",
        "other charged",
        "Δ charged",
        title=f"Side by side {month} ({rows[0].current.currency if rows else 'DKK'})",
    )
    for r in rows:
        summary.add_row(
            r.pilot_id,
            _m(r.current.list_total),
            _m(r.current.discount_total),
            _m(r.current.charged_total),
            _m(r.other.list_total),
            _m(r.other.discount_total),
            _m(r.other.charged_total),
            _m(r.other.charged_total - r.current.charged_total),
        )
    out.print(summary)
    for r, pairs in paired:
        table = Table(
            "item",
            "period",
            "quantity",
            "current price",
            "current list",
            "current charged",
            "other price",
            "other list",
            "other charged",
            title=r.pilot_id,
        )
        for key, a, b in pairs:
            item, start, until = key
            some = a or b
            table.add_row(
                item,
                _period(start, until),
                str(some.quantity),  # type: ignore[union-attr]
                str(a.unit_price) if a else "",
                _m(a.list_amount) if a else "",
                _m(a.charged) if a else "",
                str(b.unit_price) if b else "",
                _m(b.list_amount) if b else "",
                _m(b.charged) if b else "",
            )
        out.print(table)
    if output is not None:
        _write_text(obj, out.file.getvalue(), output)  # type: ignore[attr-defined]


def _pair_lines(row: WhatIf) -> list[tuple[tuple[Any, Any, Any], Any, Any]]:
    """Lines of both sides matched on (item, period); unmatched ones stand alone."""
    a = {(x.item, x.period_from, x.period_until): x for x in row.current.lines}
    b = {(x.item, x.period_from, x.period_until): x for x in row.other.lines}
    order = {line.item: i for i, line in enumerate(row.current.lines + row.other.lines)}
    keys = sorted(set(a) | set(b), key=lambda k: (order.get(k[0], 99), k[1], k[2]))
    return [(k, a.get(k), b.get(k)) for k in keys]


def prices(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="A price list to check and show (default: the one in force)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the price list (versions, unit prices, digests, the pilot discount); check a file."""
    obj: AppContext = ctx.obj
    price_list = _load_prices(file or obj.settings.policy.prices_file, "FILE")
    data = price_list.describe()
    if as_json:
        emit_json(data)
        return
    from rich.table import Table

    from policies.prices import PRICE_FIELDS

    table = Table(
        "version",
        "valid from",
        "valid until",
        *PRICE_FIELDS,
        "digest",
        title=f"Price list {data['source']} (sha256 {price_list.digest[:12]}), {data['currency']}",
    )
    for v in data["versions"]:
        table.add_row(
            v["id"],
            v["valid_from"],
            v["valid_until"] or "(open)",
            *[v["prices"][f] for f in PRICE_FIELDS],
            v["digest"][:12],
        )
    obj.out.print(table)
    pilot = data["discounts"]["pilot"]
    if pilot:
        obj.out.print(
            f"Pilot discount: {pilot['percent']} % from {pilot['from']} until {pilot['until']} (exclusive)"
        )
    else:
        obj.out.print("No pilot discount.")
