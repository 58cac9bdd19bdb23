"""``ngc-pilot requests file | list | approve | reject``: change requests from the command line.

The service facade (``obj.services``, :mod:`ngc_pilot.facade.requests`)
checks, decides and applies; this module turns options into the request's
kind and value and words the services' problems as the options that carry them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import CloudOpt, CloudsFile, JsonFlag, as_options, with_cloud
from ngc_pilot.errors import InputError
from policies.problems import Problem

app = typer.Typer(
    help="Change requests: more time, another size, a member, data access.",
    no_args_is_help=True,
)

OPTIONS = {
    "end date": "--extend-to",
    "size": "--size",
    "member e-mail": "--add-member",
    "member name": "--name",
    "member role": "--role",
    "member language": "--language",
    "justification": "--justification",
    "reason": "--reason",
    "status": "--status",
}
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why it is decided so (told to the PI, audited).")
]


@app.command("file")
def file_(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(help="The pilot the request is for.")],
    justification: Annotated[
        str, typer.Option("--justification", help="Why the pilot needs the change.")
    ],
    extend_to: Annotated[
        str | None,
        typer.Option("--extend-to", metavar="DATE", help="A new last day (YYYY-MM-DD)."),
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", metavar="NAME", help="Another size template.")
    ] = None,
    add_member: Annotated[
        str | None, typer.Option("--add-member", metavar="EMAIL", help="A member to add.")
    ] = None,
    data_access: Annotated[
        bool, typer.Option("--data-access", help="Access to the national genome data.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="With --add-member: the member's name."),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            metavar="member|reader",
            help="With --add-member: their role (default member; reader: read-only).",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            metavar="da|en",
            help="With --add-member: the language of their notices (default da).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """File a change request for a pilot (pending until approved or rejected)."""
    obj: AppContext = ctx.obj
    given = [
        (kind, value)
        for kind, value in (
            ("extend", extend_to),
            ("resize", size),
            ("add_member", add_member),
            ("data_access", "" if data_access else None),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise InputError(
            [
                Problem(
                    "command line",
                    "request",
                    len(given),
                    "give exactly one of --extend-to DATE, --size NAME, --add-member EMAIL, "
                    "--data-access",
                )
            ]
        )
    [(kind, value)] = given
    with as_options(OPTIONS):
        row = obj.services.file_request(
            pilot,
            kind,
            value,
            justification,
            member_name=name,
            member_role=role,
            member_language=language,
        ).as_dict()
    if as_json:
        emit_json(row)
        return
    who = f" ({row['member']['role']})" if row["member"] else ""
    obj.out.print(
        f"request {row['id']} filed for {row['pilot']}: {row['kind']} {row['value']}{who}"
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    pilot: Annotated[str | None, typer.Option("--pilot", help="Only this pilot.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only this status: pending|approved|rejected|applied|failed."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change requests, oldest first."""
    obj: AppContext = ctx.obj
    with as_options(OPTIONS):
        rows = [r.as_dict() for r in obj.services.requests(pilot_id=pilot, status=status)]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "pilot", "kind", "value", "status", "filed", "by", "decision")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["pilot"],
            r["kind"],
            r["value"],
            r["status"],
            r["filed_at"][:16],
            r["filed_by"],
            r["reason"] or r["justification"],
        )
    obj.out.print(table)
    obj.out.print(f"{len(rows)} request(s)")


@app.command("approve")
def approve(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(metavar="ID", help="The request.")],
    reason: ReasonOpt,
    by: Annotated[
        str | None, typer.Option("--by", help="Who decides (default: the actor).")
    ] = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a pending request and apply it through the provisioner; the PI is told.

    Exit code 1 if applying it failed (the request is then ``failed``).
    """
    obj = with_cloud(ctx, cloud, clouds_file)
    with as_options(OPTIONS):
        decision = obj.services.approve_request_applying(request_id, reason, by=by)
    row = decision.request.as_dict()
    if as_json:
        emit_json({**row, "applied": list(decision.applied)})
    else:
        obj.out.print(f"request {row['id']} ({row['kind']} {row['value']}): {row['status']}")
        for step in decision.applied:
            obj.out.print(f"  {step}")
        if row["note"]:
            obj.out.print(f"  note: {row['note']}")
        if row["error"]:
            obj.err.print(f"  error: {row['error']}")
    if row["status"] == "failed":
        raise typer.Exit(1)


@app.command("reject")
def reject(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(metavar="ID", help="The request.")],
    reason: ReasonOpt,
    by: Annotated[
        str | None, typer.Option("--by", help="Who decides (default: the actor).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Reject a pending request; the PI is told."""
    obj: AppContext = ctx.obj
    with as_options(OPTIONS):
        row = obj.services.reject_request(request_id, reason, by=by).as_dict()
    if as_json:
        emit_json(row)
        return
    obj.out.print(f"request {row['id']} ({row['kind']} {row['value']}): rejected")
