"""What every command needs: the application context plus the command line's own output.

:class:`AppContext` is the Click-free :class:`ngc_pilot.application.Application`
(settings, engine, policies, provisioner factory, actor) with the two consoles
the commands print to and the service facade (:attr:`AppContext.services`)
every command calls, and it hands the engine's disposal to Click when the
command ends.  Everything is created lazily, so ``--help`` and ``intake
schema`` work without a database, and nothing is built at import time.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from ngc_pilot.application import Application

if TYPE_CHECKING:
    from ngc_pilot.facade import Services


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (logs, CI, tests) gets a wide page instead of 80 columns.
    width = None if stream.isatty() else 180
    return Console(stderr=stderr, highlight=False, width=width)


@dataclass
class AppContext(Application):
    out: Console = field(default_factory=lambda: _console(stderr=False))
    err: Console = field(default_factory=lambda: _console(stderr=True))

    def __post_init__(self) -> None:
        context = click.get_current_context(silent=True)
        if context is not None:
            context.find_root().call_on_close(self.close)

    @cached_property
    def services(self) -> Services:
        """The service facade on this context's engine, policy and actor (built on first use:
        importing it loads the ORM, so ``--help`` does not)."""
        from ngc_pilot.facade import Services

        return Services.from_application(self)


def emit_json(data: Any) -> None:
    """Machine output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()
