"""``ngc-pilot members add | remove | list``: a tenant's researchers, each with their own access."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import CloudOpt, CloudsFile, JsonFlag, with_cloud
from ngc_pilot.errors import InputError
from policies.problems import Problem

if TYPE_CHECKING:
    from ngc_pilot.facade.members import MemberChange

app = typer.Typer(
    help="A tenant's members: their own user, credential and bundle each.", no_args_is_help=True
)
Pilot = Annotated[str, typer.Argument(metavar="PILOT", help="The pilot id.")]
Email = Annotated[str, typer.Argument(metavar="EMAIL", help="The member's e-mail address.")]
SSH_KEY_MAX = 16_384  # bytes: a public key line is far shorter


def _read_key(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(SSH_KEY_MAX + 1)
        if len(data) > SSH_KEY_MAX:
            raise ValueError(f"larger than {SSH_KEY_MAX} bytes")
        return data.decode("utf-8")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(
            [Problem("command line", "--ssh-key", str(path), f"cannot read it: {reason}")]
        ) from exc


@app.command("add")
def add(
    ctx: typer.Context,
    pilot: Pilot,
    email: Email,
    name: Annotated[str | None, typer.Option("--name", help="The member's name.")] = None,
    role: Annotated[
        str, typer.Option("--role", help="member (read and write) or reader (read only).")
    ] = "member",
    language: Annotated[
        str, typer.Option("--language", help="Notices in da (default) or en.")
    ] = "da",
    age_recipient: Annotated[
        str | None,
        typer.Option(
            "--age-recipient",
            metavar="KEY",
            help="The member's age public key: bundle encrypted to it.",
        ),
    ] = None,
    ssh_key: Annotated[
        Path | None,
        typer.Option("--ssh-key", metavar="FILE", help="The member's OpenSSH public key file."),
    ] = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Give EMAIL their own user, credential and bundle in PILOT's tenant, and queue their notice."""
    obj = with_cloud(ctx, cloud, clouds_file)
    key_text = _read_key(ssh_key) if ssh_key is not None else None
    outcome = obj.services.add_member(
        pilot,
        email,
        name=name,
        role=role,
        language=language,
        age_recipient=age_recipient,
        ssh_key=key_text,
    )
    _report(obj, outcome, as_json, "added")


@app.command("remove")
def remove(
    ctx: typer.Context,
    pilot: Pilot,
    email: Email,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    cloud: CloudOpt = None,
    clouds_file: CloudsFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke all of EMAIL's access to PILOT's tenant at once, and queue their notice."""
    obj = with_cloud(ctx, cloud, clouds_file)
    outcome = obj.services.remove_member(pilot, email, reason=reason)
    _report(obj, outcome, as_json, "removed")


def _report(obj: AppContext, outcome: MemberChange, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(outcome.as_dict())
    elif outcome.ok:
        delivery = ""
        if verb == "added":
            kube = ", with their own kubeconfig" if outcome.kubeconfig else ""
            delivery = (
                f" (bundle{kube} encrypted to their age key)"
                if outcome.encrypted
                else f" (bundle{kube}; no age key: they collect it from operations)"
            )
        obj.out.print(
            f"{outcome.email} {verb} ({len(outcome.applied)} change(s), "
            f"{outcome.seconds:.1f} s){delivery}",
            markup=False,
            highlight=False,
        )
    if not outcome.ok:
        obj.err.print(
            f"{outcome.email}: {outcome.failed_step} failed: {outcome.error}; "
            "run the command again to continue",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)


@app.command("list")
def list_(
    ctx: typer.Context,
    pilot: Pilot,
    include_removed: Annotated[bool, typer.Option("--all", help="Removed members too.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """PILOT's members, their role and state."""
    obj: AppContext = ctx.obj
    rows = obj.services.members(pilot, include_removed=include_removed)
    if as_json:
        emit_json(rows)
        return
    table = Table("email", "name", "role", "language", "state", "delivery", "added")
    for r in rows:
        table.add_row(
            r["email"],
            r["name"] or "",
            r["role"],
            r["language"],
            r["state"],
            "age" if r["encrypted_delivery"] else "collect",
            r["added_at"][:16],
        )
    obj.out.print(table)
