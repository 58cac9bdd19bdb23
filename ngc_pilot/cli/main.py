"""Entry point of ``ngc-pilot``: global options, error handling, sub-command groups.

Errors meant for people (:class:`ngc_pilot.errors.NgcPilotError`) are printed
without a traceback, one line per problem, and set the exit code (2 for bad
input).  Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import re
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from ngc_pilot.cli import (
    audit_cmd,
    db_cmd,
    demo_cmd,
    evaluation_cmd,
    intake_cmd,
    invoice_cmd,
    lifecycle_cmd,
    mail_cmd,
    members_cmd,
    meter_cmd,
    milestones_cmd,
    policy_cmd,
    report_cmd,
    requests_cmd,
    select_cmd,
    serve_cmd,
    support_cmd,
    tenants_cmd,
    tui_cmd,
)
from ngc_pilot.cli.context import AppContext
from ngc_pilot.errors import InputError, NgcPilotError
from ngc_pilot.settings import build_settings
from policies.problems import Problem, problems_from_validation
from provisioner.backend import CloudError

app = typer.Typer(
    name="ngc-pilot",
    help="Run the National Genome Center's private-cloud pilot: intake, selection, and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(intake_cmd.app, name="intake")
app.add_typer(select_cmd.app, name="select")
app.add_typer(policy_cmd.app, name="policy")
app.command("provision")(tenants_cmd.provision)
app.add_typer(tenants_cmd.tenants_app, name="tenants")
app.command("teardown")(tenants_cmd.teardown)
app.command("env")(tenants_cmd.env)
app.command("audit")(audit_cmd.audit)
app.command("demo")(demo_cmd.demo)
app.command("tui")(tui_cmd.tui)
app.command("invoice")(invoice_cmd.invoice)
app.command("prices")(invoice_cmd.prices)
app.command("meter")(meter_cmd.meter)
app.command("usage")(meter_cmd.usage)
tenants_cmd.tenants_app.command("reconcile")(lifecycle_cmd.reconcile)
tenants_cmd.tenants_app.command("expire")(lifecycle_cmd.expire)
tenants_cmd.tenants_app.command("data-access")(lifecycle_cmd.data_access)
tenants_cmd.tenants_app.command("data-access-date")(lifecycle_cmd.data_access_date)
app.add_typer(mail_cmd.outbox_app, name="outbox")
app.command("statement")(mail_cmd.statement)
app.command("serve")(serve_cmd.serve)
app.add_typer(serve_cmd.jobs_app, name="jobs")
app.add_typer(evaluation_cmd.app, name="evaluation")
app.add_typer(support_cmd.app, name="support")
app.command("milestones")(milestones_cmd.milestones)
app.command("report")(report_cmd.report)
app.add_typer(members_cmd.app, name="members")
app.add_typer(requests_cmd.app, name="requests")


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: SQLite at ./var/ngc-pilot.db; env NGC_PILOT_DATABASE_URL).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML settings file (env NGC_PILOT_CONFIG).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="Selection policy YAML (default: the shipped policies/selection.yaml)."
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Who is acting, for the audit log (default: login name)."),
    ] = None,
) -> None:
    overrides: dict[str, Any] = {}
    if db:
        overrides["database"] = {"url": db}
    if policy:
        overrides["policy"] = {"selection_file": str(policy)}
    if actor:
        if len(actor) > 200:
            raise InputError(
                [Problem("--actor", "actor", actor, "at most 200 characters are allowed")]
            )
        overrides["audit"] = {"actor": actor}
    try:
        settings = build_settings(config, overrides)
    except ValidationError as exc:
        raise InputError(
            problems_from_validation(exc, source=str(config or "settings (NGC_PILOT_*)"))
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read settings file {config}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot read settings file {config}: not UTF-8 text; is it a binary file?"
        ) from exc
    ctx.obj = _literal(AppContext(settings))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class _LiteralConsole(Console):
    """A console that shows control characters in text as ``\\x1b`` instead of sending
    them to the terminal (a document stored before import refused them may hold some);
    every string it prints, in a line, a table cell or a title, passes through here."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        visible = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        return super().render_str(visible, **kwargs)


def _literal(context: AppContext) -> AppContext:
    """The context with consoles that print every string as text, never as Rich markup.

    Names, pitches and reasons come from files and the database: "[/]" in one
    must neither crash a listing nor restyle the operator's screen, and
    ":warning:" stays those nine characters.  Styling is given explicitly
    (``style=``, :class:`rich.text.Text`).
    """

    def literal(console: Console) -> Console:
        return _LiteralConsole(
            stderr=console.stderr, width=console.width, highlight=False, markup=False, emoji=False
        )

    return replace(context, out=literal(context.out), err=literal(context.err))


def _print_error(error: NgcPilotError) -> None:
    if isinstance(error, InputError):
        count = len(error.problems)
        sys.stderr.write(
            f"error: {count} problem{'s' if count != 1 else ''}; nothing was changed\n"
        )
        for problem in error.problems:
            sys.stderr.write(f"  {problem}\n")
    else:
        sys.stderr.write(f"error: {error}\n")


# typer (>= 0.25) raises its own copies of click's exceptions; catch both kinds,
# so a bad option value is one readable line and exit code 2, never a traceback.
_EXIT = (click.exceptions.Exit, typer.Exit)
_USAGE = (click.ClickException, typer.TyperException)
_ABORT = (click.exceptions.Abort, typer.Abort)


def _database_error(error: Exception) -> tuple[str, int] | None:
    """(one line, exit code) for an error the database raised; None for anything else.

    Looked up lazily: ``--help`` must not import SQLAlchemy.
    """
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(error, sa_exc.SQLAlchemyError):
        return None
    from ngc_pilot.db import describe_database_error

    return describe_database_error(error)


def _refuse_control_characters(argv: list[str]) -> None:
    """Command-line text reaches the database and the audit log: no control characters.

    (Tab and newline are allowed, for a multi-line --reason.)
    """
    for arg in argv:
        bad = next(
            (c for c in arg if (ord(c) < 32 and c not in "\t\n") or 127 <= ord(c) < 160), None
        )
        if bad is not None:
            raise InputError(
                [
                    Problem(
                        "command line",
                        "argument",
                        arg,
                        f"contains the control character U+{ord(bad):04X}; only printable text "
                        "is allowed",
                    )
                ]
            )


@functools.cache
def _command() -> click.Command:
    """The Click command tree of ``app``, built once per process.

    Building it reads every command's signature (about 0.4 s of CPU); one process
    runs one command, but the tests call :func:`run` in-process thousands of times.
    """
    return typer.main.get_command(app)


def run(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    command = _command()
    try:
        _refuse_control_characters(sys.argv[1:] if argv is None else argv)
        result = command.main(args=argv, prog_name="ngc-pilot", standalone_mode=False)
    except NgcPilotError as error:
        _print_error(error)
        return error.exit_code
    except CloudError as error:
        # The cloud failed or could not be reached: one line, no traceback.
        sys.stderr.write(f"error: the cloud: {error}\n")
        return 1
    except _EXIT as exc:
        return exc.exit_code
    except _USAGE as exc:
        if hasattr(exc, "show"):
            exc.show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        return getattr(exc, "exit_code", 2)
    except _ABORT:
        sys.stderr.write("aborted\n")
        return 1
    except OSError as error:
        # A file named on the command line cannot be read or written (a missing folder for -o).
        where = f"{error.filename}: " if error.filename else ""
        sys.stderr.write(f"error: {where}{error.strerror or error}\n")
        return 2
    except Exception as error:  # a database's refusal: one line; anything else is a bug
        described = _database_error(error)
        if described is None:
            raise
        message, code = described
        sys.stderr.write(f"error: {message}\n")
        return code
    return result if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(run())
