"""``ngc-pilot report``: the steering group's monthly report (PDF, HTML or Markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options


def report(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (e.g. 2021-05).")],
    fmt: Annotated[
        str, typer.Option("--format", help="pdf (default), html or md.", metavar="pdf|html|md")
    ] = "pdf",
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang", help="da or en (default: report.language, Danish).", metavar="da|en"
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here (default: report.dir/steering-report-MONTH-LANG.FORMAT).",
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the month's report: selection, pilots, usage and cost, the payment-model test,
    capacity plots, evaluation, support and risks (audited)."""
    obj: AppContext = ctx.obj
    language = lang or obj.settings.report.language
    services = obj.services
    with as_options({"month": "--month", "format": "--format", "language": "--lang"}):
        services.check_report_options(fmt, language)
        path = services.generate_report(month, fmt=fmt, language=language, path=output)
    if as_json:
        emit_json(
            {
                "month": month.strip(),
                "format": fmt,
                "language": language,
                "path": str(path),
                "bytes": path.stat().st_size,
            }
        )
        return
    obj.out.print(f"wrote {path}")
