"""``ngc-pilot meter | usage``: run one metering cycle; list the usage stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options
from ngc_pilot.errors import InputError
from policies.problems import Problem

if TYPE_CHECKING:
    from types import ModuleType

    from ngc_pilot.facade import MeterReport


def _fields() -> ModuleType:
    """The domain's field names (imported when a command runs: it loads the services)."""
    from ngc_pilot.facade import fields

    return fields


_TIME_HELP = "ISO 8601 time, e.g. 2021-05-10T12:00Z; without an offset it is UTC."


def _when(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            [Problem("command line", option, text, f"not a time; give an {_TIME_HELP}")]
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def meter(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help=f"Meter the complete windows from here. {_TIME_HELP}"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help=f"...up to here (default: now). {_TIME_HELP}"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run one metering cycle: every missed window, the newest ones again, or --since/--until.

    Usage is read from the cloud (Nova, Cinder) per tenant and window and stored
    by (tenant, metric, window): a re-run overwrites, it never adds up.
    """
    obj: AppContext = ctx.obj
    start, end = _when("--since", since), _when("--until", until)
    if end is not None and start is None:
        raise InputError([Problem("command line", "--until", until, "--until needs --since")])
    with as_options(lambda: {_fields().SINCE: "--since", _fields().UNTIL: "--until"}):
        report = obj.services.meter(since=start, until=end)
    if as_json:
        emit_json(report.as_dict())
        return
    _print_report(obj, report)


def _print_report(obj: AppContext, report: MeterReport) -> None:
    from rich.table import Table

    data = report.as_dict()
    if not report.windows:
        obj.out.print("Nothing to meter: no complete window is missing and none is metered yet.")
        return
    obj.out.print(
        f"Metered {data['windows_metered']} window(s) from {report.windows[0]['start']} to "
        f"{report.windows[-1]['end']}: {data['new']} new ({report.backfilled} backfilled), "
        f"{report.recomputed} recomputed; {report.tenants} tenant(s); records "
        f"{report.records_new} new, {report.records_changed} changed, "
        f"{report.records_unchanged} unchanged; {report.seconds:.2f} s "
        f"({report.cloud_seconds:.2f} s reading the cloud)."
    )
    if report.remaining:
        obj.out.print(
            f"{report.remaining} missed window(s) are left for the next cycles "
            "(metering.backfill_max_windows)."
        )
    table = Table("metric", "total in these windows")
    for metric, total in data["totals"].items():
        table.add_row(metric, total)
    obj.out.print(table)


def usage(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this pilot's tenant (pilot id).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help=f"Windows starting here or later. {_TIME_HELP}")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help=f"Windows starting before this. {_TIME_HELP}")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the usage stored per tenant and metric (what invoices are rated from)."""
    from rich.table import Table

    obj: AppContext = ctx.obj
    start, end = _when("--since", since), _when("--until", until)
    with as_options(lambda: {_fields().TENANT: "--tenant"}):
        rows = obj.services.usage_rows(tenant, since=start, until=end)
    if as_json:
        emit_json(rows)
        return
    table = Table("pilot", "metric", "quantity", "unit", "windows", "from", "until")
    for row in rows:
        table.add_row(
            row["pilot"],
            row["metric"],
            str(row["quantity"]),
            row["unit"],
            str(row["windows"]),
            (row["from"] or "")[:16],
            (row["until"] or "")[:16],
        )
    obj.out.print(table)
