"""``ngc-pilot tenants reconcile | expire | data-access | data-access-date`` (the outbox: :mod:`.mail_cmd`).

The same functions the service's jobs call (``ngc_pilot.lifecycle``), run by
hand.  ``--today`` runs the date rules for another day; everything that
changes because of it is audited with that day and the fact it was given.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import CloudOpt, CloudsFile, JsonFlag, with_cloud
from ngc_pilot.errors import InputError
from policies.problems import Problem

TodayOpt = Annotated[
    str | None,
    typer.Option(
        "--today",
        metavar="DATE",
        help="Run the rules as of this UTC date (YYYY-MM-DD) instead of the clock; audited.",
    ),
]


def _day(today: str | None) -> date | None:
    if today is None:
        return None
    try:
        return date.fromisoformat(today)
    except ValueError:
        raise InputError(
            [Problem("command line", "--today", today, "not a date; write YYYY-MM-DD (UTC)")]
        ) from None


def reconcile(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Put drift right (default: as the lifecycle policy says; report only)."
        ),
    ] = False,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Compare every active or suspended tenant with what it should be; report (and repair) drift.

    Exit code 1 if a tenant could not be checked or repaired.
    """
    obj = with_cloud(ctx, cloud, clouds_file)
    report = obj.services.reconcile(repair=True if repair else None)
    data = report.as_dict()
    if as_json:
        emit_json(data)
    else:
        table = Table("pilot", "state", "drift", "repaired", "error")
        for t in data["tenants"]:
            table.add_row(
                t["pilot"],
                t["state"],
                "\n".join(_change(c) for c in t["drift"]) or "none",
                "yes" if t["repaired"] else "",
                t["error"] or "",
            )
        obj.out.print(table)
        obj.out.print(
            f"{data['checked']} tenant(s) checked, {data['drifted']} drifted, "
            f"{data['repaired']} repaired" + ("" if data["repair"] else " (report only)")
        )
    for t in data["tenants"]:
        if t["error"]:
            obj.err.print(f"error: tenant {t['pilot']} failed: {t['error']}", soft_wrap=True)
    if data["failed"]:
        raise typer.Exit(1)


def _change(c: dict[str, Any]) -> str:
    sign = {"create": "+", "update": "~", "delete": "-"}.get(c["action"], "?")
    return f"{sign} {c['resource']} {c['name']} {c['detail'] or ''}".rstrip()


def expire(
    ctx: typer.Context,
    today: TodayOpt = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Expiry rules: notices before the end, suspension after it, final invoice and teardown
    after the grace period.  Exit code 1 if a step failed."""
    day = _day(today)
    obj = with_cloud(ctx, cloud, clouds_file)
    report = obj.services.expire(today=day)
    data = report.as_dict()
    if as_json:
        emit_json(data)
    else:
        table = Table("pilot", "action", "result", "detail")
        for s in data["steps"]:
            detail = {k: v for k, v in s.items() if k not in ("pilot", "action", "ok", "error")}
            table.add_row(
                s["pilot"],
                s["action"],
                "ok" if s["ok"] else f"FAILED: {s['error']}",
                ", ".join(f"{k}={v}" for k, v in detail.items()),
            )
        obj.out.print(table)
        given = " (date given)" if data["today_given"] else ""
        obj.out.print(
            f"as of {data['today']}{given}: {data['checked']} tenant(s), "
            f"{len(data['steps'])} step(s), {data['failed']} failed"
        )
    if data["failed"]:
        raise typer.Exit(1)


def data_access(
    ctx: typer.Context,
    today: TodayOpt = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Grant the data-access role (once) to each active tenant whose date has come and whose
    data sources include the national genome data; say why not for every other one.

    A pilot's date is its own (tenants data-access-date) or the policy's.
    Exit code 1 if a tenant could not be granted it (e.g. the role does not exist)."""
    day = _day(today)
    obj = with_cloud(ctx, cloud, clouds_file)
    report = obj.services.switch_data_access(today=day)
    data = report.as_dict()
    if as_json:
        emit_json(data)
    else:
        if not data["tenants"]:
            obj.out.print(f"as of {data['today']}: no tenant to grant; nothing to do")
        table = Table("pilot", "date", "granted", "applied", "why not / error")
        for t in data["tenants"]:
            table.add_row(
                t["pilot"],
                "",
                "yes" if t["granted"] else "no",
                ", ".join(t["applied"]),
                t["error"] or "",
            )
        for t in data["skipped"]:
            granted = "yes" if t["status"] == "granted" else "no"
            table.add_row(t["pilot"], t["date"], granted, "", t["why"])
        obj.out.print(table)
        obj.out.print(
            f"role {data['role']}: {data['granted']} granted, {data['failed']} failed, "
            f"{len(data['skipped'])} not acted on (as of {data['today']}; policy date "
            f"{data['date']}; national genome data: {', '.join(data['sources'])})"
        )
    if data["failed"]:
        raise typer.Exit(1)


def data_access_date(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(metavar="PILOT", help="The pilot's id.")],
    day: Annotated[
        str,
        typer.Argument(
            metavar="DATE",
            help="From this UTC date (YYYY-MM-DD) the pilot's tenant may get data access; "
            "'policy' returns to the lifecycle policy's date.",
        ),
    ],
    why: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit log).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the day from which one pilot's tenant may get the data-access role; audited.

    Refused (exit 2, nothing changed): an unknown pilot, a bad date, a pilot whose
    data sources include no national genome data, a pilot already granted."""
    obj: AppContext = ctx.obj
    if day == "policy":
        value = None
    else:
        try:
            value = date.fromisoformat(day)
        except ValueError:
            raise InputError(
                [
                    Problem(
                        "command line",
                        "DATE",
                        day,
                        "not a date; write YYYY-MM-DD (UTC) or 'policy' for the policy's date",
                    )
                ]
            ) from None
    result = obj.services.set_data_access_date(pilot, value, why=why)
    if as_json:
        emit_json(result)
        return
    whose = "its own" if result["to"] else "the policy's"
    obj.out.print(f"{result['pilot']}: data access from {result['date']} ({whose} date)")
