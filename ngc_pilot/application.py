"""What every interface needs, built once from the settings: the application context.

The CLI, the TUI and the scheduler all start from an :class:`Application`:
the settings, the database engine (created lazily, with the schema check, and
disposed by :meth:`Application.close`), the three policy files, a factory for
the provisioner and the actor recorded in the audit log.  Nothing is built at
import time and nothing here knows about Click, Textual or APScheduler; each
interface owns its own output and its own way of closing the engine (the CLI
registers :meth:`close` with Click).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ngc_pilot.errors import InputError
from ngc_pilot.settings import Settings
from policies.problems import InputProblems, Problem
from policies.selection_policy import SelectionPolicy, load_policy
from policies.tenancy import TenantPolicy, load_tenant_policy

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from ngc_pilot.provisioning import Provisioner
    from policies.lifecycle import LifecyclePolicy
    from provisioner.kubernetes.backend import KubernetesBackend


@dataclass
class Application:
    """Settings, engine, policies, provisioner factory and actor of one process."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        """The database, migrated when empty; refused when its schema is behind or ahead."""
        from sqlalchemy import inspect

        from ngc_pilot import migrate
        from ngc_pilot.db import make_engine

        engine = make_engine(self.settings.database_url, echo=self.settings.database.echo)
        try:
            if not inspect(engine).has_table("alembic_version"):
                # A fresh database (e.g. the default SQLite file) is created on first use.
                migrate.upgrade(engine)
            elif not migrate.is_current(engine):
                raise InputError(
                    f"the database schema is at {migrate.current(engine)}, this ngc-pilot needs "
                    f"{migrate.head(engine)}; run `ngc-pilot db upgrade`"
                )
        except BaseException:
            engine.dispose()
            raise
        return engine

    def close(self) -> None:
        """Dispose of the engine if one was made (its pooled connections are closed)."""
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.dispose()

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
        """A provisioner on the configured cloud (the cloud is contacted on first use)."""
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
            kube_backend_factory=self.kubernetes_backend_factory(),
            engine=self.engine,
            tenant_policy=self.tenant_policy,
            backend_factory=backend,
            cloud=settings.cloud.name,
            environments_dir=settings.environments_dir.resolve(),
            actor=self.actor,
            lifecycle_policy=self.lifecycle_policy,
            prices_file=settings.policy.prices_file,
            bastion_keys_file=settings.var_dir.resolve() / "bastion" / "authorized_keys",
        )

    def kubernetes_backend_factory(self) -> Callable[[], KubernetesBackend] | None:
        """A factory for the configured cluster's backend; None when no kubeconfig is set.

        A kubeconfig that does not load is one clear line (an :class:`InputError`)
        when the cluster is first used.
        """
        settings = self.settings.kubernetes
        if settings.kubeconfig is None:
            return None
        kubeconfig, context = settings.kubeconfig, settings.context

        def backend() -> KubernetesBackend:
            from provisioner.backend import CloudError
            from provisioner.kubernetes.backend import KubernetesBackend

            try:
                return KubernetesBackend(kubeconfig, context)
            except CloudError as exc:
                raise InputError(
                    [Problem("settings", "kubernetes.kubeconfig", str(kubeconfig), str(exc))]
                ) from exc

        return backend

    @property
    def actor(self) -> str:
        return self.settings.actor
