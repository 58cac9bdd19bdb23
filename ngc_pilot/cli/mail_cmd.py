"""``ngc-pilot outbox [send]`` and ``ngc-pilot statement``: the mail queue by hand.

The same functions the ``mail`` and ``statement`` jobs call, through the
service facade (:mod:`ngc_pilot.facade.mail`).  ``outbox`` lists what is queued, sent and failed
(with attempts and the last error); ``outbox send`` sends what is due now;
``statement --month`` queues a month's usage statements.  Nothing here
prints the SMTP password or any attachment's contents.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag, as_options

outbox_app = typer.Typer(
    help="The outbox: notices queued for e-mail, their delivery status; send them now.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@outbox_app.callback()
def outbox(
    ctx: typer.Context,
    pilot: Annotated[str | None, typer.Option("--pilot", help="Only this pilot's notices.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only notices in this status (queued, claimed, sending, sent, failed, in_doubt).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The notices in the outbox, oldest first: status, attempts, last error."""
    if ctx.invoked_subcommand is not None:
        return
    obj: AppContext = ctx.obj
    with as_options({"status": "--status"}):
        rows = obj.services.mail_outbox(pilot_id=pilot, status=status)
    if as_json:
        emit_json(rows)
        return
    table = Table(
        "created (UTC)", "pilot", "kind", "recipient", "subject", "status", "tries", "sent / error"
    )
    for r in rows:
        table.add_row(
            r["created_at"][:19],
            r["pilot"] or "",
            r["kind"],
            r["recipient"],
            r["subject"],
            r["status"],
            str(r["attempts"]),
            (r["sent_at"] or "")[:19] or (r["last_error"] or ""),
        )
    obj.out.print(table)


@outbox_app.command("send")
def send(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Send every due notice now through the configured SMTP server (settings [mail])."""
    obj: AppContext = ctx.obj
    data = obj.services.send_mail()
    if as_json:
        emit_json(data)
    else:
        obj.out.print(
            f"claimed {data['claimed']}: {data['sent']} sent, {data['retrying']} to retry, "
            f"{data['failed']} failed for good, {data['in_doubt']} in doubt, "
            f"{data['reclaimed']} taken over from a stopped sender "
            f"({data['seconds']} s)"
        )
        for failure in data["failures"]:
            obj.out.print(
                f"failed: {failure['key']} after {failure['attempts']} attempt(s): {failure['error']}"
            )
        if data["error"]:
            obj.err.print(data["error"])
    if data["error"] or data["failed"] or data["in_doubt"]:
        raise typer.Exit(1)


@outbox_app.command("retry")
def retry(
    ctx: typer.Context,
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="The message's key (see `ngc-pilot outbox`).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why it is sent again; audited.")],
) -> None:
    """Queue a failed or in-doubt message again (same Message-ID, fresh attempts)."""
    obj: AppContext = ctx.obj
    with as_options({"key": "KEY", "reason": "--reason"}):
        obj.services.requeue_mail(key, reason)
    obj.out.print(f"{key}: queued again")


def statement(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", metavar="YYYY-MM", help="The month to state.")],
    as_json: JsonFlag = False,
) -> None:
    """Queue the month's usage statement (usage, list price, discount, charged) to each PI."""
    obj: AppContext = ctx.obj
    with as_options({"month": "--month"}):
        data = obj.services.queue_statements(month)
    if as_json:
        emit_json(data)
        return
    table = Table("pilot", "recipient", "list", "discount", "charged", "final")
    for q in data["queued"]:
        table.add_row(
            q["pilot"],
            q["recipient"],
            f"{q['list_total']} {q['currency']}",
            q["discount_total"],
            q["charged_total"],
            "yes" if q["final"] else "no",
        )
    obj.out.print(table)
    obj.out.print(
        f"{data['month']}: {len(data['queued'])} statement(s) queued, "
        f"{len(data['already_queued'])} already queued"
    )
