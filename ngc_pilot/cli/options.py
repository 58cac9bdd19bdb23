"""Options that several commands share, and how the command line words a service's problem.

One definition of ``--json``, ``--cloud`` and ``--clouds-file`` for every
command that takes them, :func:`with_cloud` to apply the last two, and
:func:`as_options` (and the decorator :func:`worded_as`), which rewords a
problem the services raise about a domain field (``decision maker``) as one
about the option that carries it (``--by``).  Nothing here runs a command.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ngc_pilot.cli.context import AppContext
from ngc_pilot.errors import InputError

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
CloudOpt = Annotated[
    str | None,
    typer.Option(
        "--cloud",
        help="clouds.yaml entry to act as (default: settings, then OS_CLOUD, then devcloud).",
    ),
]
CloudsFile = Annotated[
    Path | None,
    typer.Option(
        "--clouds-file",
        help="clouds.yaml to read (default: settings, then OS_CLIENT_CONFIG_FILE, then the standard search path).",
    ),
]


def with_cloud(ctx: typer.Context, cloud: str | None, clouds_file: Path | None) -> AppContext:
    """The command's context, acting as ``cloud`` from ``clouds_file`` where given."""
    obj: AppContext = ctx.obj
    if cloud:
        obj.settings.cloud.name = cloud
    if clouds_file:
        obj.settings.cloud.clouds_file = clouds_file
    return obj


@contextmanager
def as_options(names: Mapping[str, str] | Callable[[], Mapping[str, str]]) -> Iterator[None]:
    """Word the services' problems about the domain fields in ``names`` as the options
    that carry them (``names``: domain field -> option, or a function returning that,
    so that the service module it comes from is imported only when the command runs)."""
    try:
        yield
    except InputError as exc:
        options = names() if callable(names) else names
        if not any(p.field in options for p in exc.problems):
            raise
        raise type(exc)(
            [
                replace(p, source="command line", field=options[p.field])
                if p.field in options
                else p
                for p in exc.problems
            ]
        ) from exc


F = TypeVar("F", bound=Callable[..., Any])


def worded_as(names: Mapping[str, str] | Callable[[], Mapping[str, str]]) -> Callable[[F], F]:
    """A command whose services' problems are worded with :func:`as_options`."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def worded(*args: Any, **kwargs: Any) -> Any:
            with as_options(names):
                return command(*args, **kwargs)

        return worded  # type: ignore[return-value]

    return decorate
