"""What every command needs, built once per invocation from the settings.

The engine and the policy are created lazily, so ``--help`` and ``intake
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

from ngc_pilot.errors import InputError
from ngc_pilot.settings import Settings
from policies.problems import InputProblems
from policies.selection_policy import SelectionPolicy, load_policy
from policies.tenancy import TenantPolicy, load_tenant_policy

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ngc_pilot.provisioning import Provisioner
    from policies.lifecycle import LifecyclePolicy


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (logs, CI, tests) gets a wide page instead of 80 columns.
    width = None if stream.isatty() else 180
    return Console(stderr=stderr, highlight=False, width=width)


@dataclass
class AppContext:
    settings: Settings
    out: Console = field(default_factory=lambda: _console(stderr=False))
    err: Console = field(default_factory=lambda: _console(stderr=True))

    @cached_property
    def engine(self) -> Engine:
        from sqlalchemy import inspect

        from ngc_pilot import migrate
        from ngc_pilot.db import make_engine

        engine = make_engine(self.settings.database_url, echo=self.settings.database.echo)
        context = click.get_current_context(silent=True)
        if context is not None:
            context.find_root().call_on_close(engine.dispose)
        if not inspect(engine).has_table("alembic_version"):
            # A fresh database (e.g. the default SQLite file) is created on first use.
            migrate.upgrade(engine)
        elif not migrate.is_current(engine):
            raise InputError(
                f"the database schema is at {migrate.current(engine)}, this ngc-pilot needs "
                f"{migrate.head(engine)}; run `ngc-pilot db upgrade`"
            )
        return engine

    @cached_property
    def policy(self) -> SelectionPolicy:
        try:
            return load_policy(self.settings.policy.selection_file)
        except InputProblems as exc:
            raise InputError(exc.problems) from exc

    @cached_property
    def tenant_policy(self) -> TenantPolicy:
        try:
            return load_tenant_policy(self.settings.policy.tenant_file)
        except InputProblems as exc:
            raise InputError(exc.problems) from exc

    @cached_property
    def lifecycle_policy(self) -> LifecyclePolicy:
        from policies.lifecycle import load_lifecycle_policy

        try:
            return load_lifecycle_policy(self.settings.policy.lifecycle_file)
        except InputProblems as exc:
            raise InputError(exc.problems) from exc

    def provisioner(self) -> Provisioner:
        from ngc_pilot.provisioning import Provisioner
        from provisioner.backend import CloudError
        from provisioner.openstack import OpenStackBackend

        settings = self.settings

        def backend() -> OpenStackBackend:
            try:
                return OpenStackBackend(settings.cloud.name, settings.cloud.clouds_file)
            except CloudError as exc:
                raise InputError(str(exc)) from exc

        return Provisioner(
            engine=self.engine,
            tenant_policy=self.tenant_policy,
            backend_factory=backend,
            cloud=settings.cloud.name,
            environments_dir=settings.environments_dir.resolve(),
            actor=self.actor,
            lifecycle_policy=self.lifecycle_policy,
            prices_file=settings.policy.prices_file,
        )

    @property
    def actor(self) -> str:
        return self.settings.actor


def emit_json(data: Any) -> None:
    """Machine output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()
