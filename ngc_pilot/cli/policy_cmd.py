"""``ngc-pilot policy``: check and show the selection policy in force."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag
from ngc_pilot.errors import InputError
from policies.problems import InputProblems
from policies.selection_policy import load_policy

app = typer.Typer(
    help="The selection policy: check a file, show the one in force.", no_args_is_help=True
)


@app.command()
def check(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="Policy file (default: the one in force).")
    ] = None,
) -> None:
    """Validate a policy file; every problem is listed with its line (exit code 2)."""
    obj: AppContext = ctx.obj
    path = file or obj.settings.policy.selection_file
    try:
        policy = load_policy(path)
    except InputProblems as exc:
        raise InputError(exc.problems) from exc
    typer.echo(f"ok: {path or 'shipped default policy'} (sha256 {policy.digest[:12]})")


@app.command()
def show(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Print the policy in force."""
    obj: AppContext = ctx.obj
    data = obj.policy.model_dump(mode="json")
    if as_json:
        emit_json(data)
        return
    import yaml

    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
