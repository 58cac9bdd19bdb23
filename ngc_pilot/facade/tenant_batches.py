"""Tenants as a batch interface runs them: plan, provision, list, show, verify, tear down,
and the lifecycle's rules (reconcile, expiry, data access, the notices' outbox).

Why this exists beside :mod:`.tenants`: the TUI's area turns a cloud failure
into ngc-pilot's own transient or permanent error for a toast, while a batch
interface (the CLI) reports the cloud's own error, the per-tenant outcomes and
its exit code itself.  These methods return the services' reports unchanged.
It deliberately holds no logic of its own: every rule lives in
:mod:`ngc_pilot.provisioning` and :mod:`ngc_pilot.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ngc_pilot import lifecycle, provisioning
from ngc_pilot.db import session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.tenant_runs import Progress, TenantOutcome
from policies.problems import InputProblems
from provisioner.backend import Probe


class TenantBatchesArea(FacadeBase):
    def plan_tenants(
        self, pilot_ids: Sequence[str] = (), *, platform: str | None = None
    ) -> list[TenantOutcome]:
        """Each pilot's plan on each of its platforms (only ``platform`` if given; every
        committed pilot if none is named); changes nothing."""
        return provisioning.plan_pilots(self._prov(), list(pilot_ids), platform=platform)

    def provision_tenants(
        self,
        pilot_ids: Sequence[str] = (),
        *,
        parallel: int | None = None,
        allow_overcommit: bool = False,
        progress: Progress | None = None,
        platform: str | None = None,
    ) -> list[TenantOutcome]:
        """Create or converge the tenants on their platforms (only ``platform`` if given);
        one outcome per tenant (a failed one among them)."""
        return provisioning.provision(
            self._prov(),
            list(pilot_ids),
            parallel=parallel or self.parallel,
            allow_overcommit=allow_overcommit,
            progress=progress,
            platform=platform,
        )

    def waiting_for_agreement(self) -> list[str]:
        """Selected pilots that get no tenant until their agreement is signed."""
        with session_scope(self.engine) as session:
            return provisioning.waiting_for_agreement(session)

    def tenant_rows(self) -> list[dict[str, Any]]:
        """Every tenant on every platform, by pilot (OpenStack's first)."""
        with session_scope(self.engine) as session:
            return provisioning.all_tenants(session)

    def tenant_facts(self, pilot_id: str) -> dict[str, Any]:
        """One tenant's row, quotas and step ledger."""
        with session_scope(self.engine) as session:
            return provisioning.tenant_detail(session, self._prov(), pilot_id)

    def isolation_probes(self) -> list[Probe]:
        return provisioning.verify(self._prov())

    def tear_down(
        self, pilot_id: str, *, reason: str | None = None
    ) -> provisioning.TeardownOutcome:
        return provisioning.teardown(self._prov(), pilot_id, reason=reason)

    def tear_down_platforms(
        self, pilot_id: str, *, platform: str | None = None, reason: str | None = None
    ) -> list[Any]:
        """Tear down the pilot's tenant on ``platform``, or on every platform it has one."""
        return provisioning.teardown_pilot(self._prov(), pilot_id, platform=platform, reason=reason)

    def environment(self, pilot_id: str) -> dict[str, Any]:
        """Where the pilot's researcher environment is and what it holds (secret masked)."""
        return provisioning.environment_info(self._prov(), pilot_id)

    # ------------------------------------------------------------ lifecycle

    def reconcile(self, *, repair: bool | None = None) -> lifecycle.ReconcileReport:
        return lifecycle.reconcile(self._prov(), repair=repair)

    def expire(self, *, today: date | None = None) -> lifecycle.ExpiryReport:
        """The expiry rules as of ``today``; final invoices use the configured price list."""
        prices = None
        configured = self.settings.policy.prices_file if self.settings else None
        if configured is not None:
            from policies.prices import load_prices

            try:
                prices = load_prices(configured)
            except InputProblems as exc:
                raise InputError(exc.problems) from exc
        return lifecycle.expire(self._prov(), today=today, prices=prices)

    def switch_data_access(self, *, today: date | None = None) -> lifecycle.AccessReport:
        return lifecycle.switch_data_access(self._prov(), today=today)

    def set_data_access_date(
        self, pilot_id: str, value: date | None, *, why: str | None = None
    ) -> dict[str, Any]:
        """A pilot's own data-access date (None: the lifecycle policy's again); audited."""
        from ngc_pilot.settings import Settings
        from policies.lifecycle import load_lifecycle_policy

        settings = self.settings or Settings()
        try:
            policy = load_lifecycle_policy(settings.policy.lifecycle_file)
        except InputProblems as exc:
            raise InputError(exc.problems) from exc
        return lifecycle.set_data_access_date(
            self.engine, policy, pilot_id, value, actor=self.actor, why=why
        )

    def outbox(self, pilot_id: str | None = None) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return lifecycle.outbox(session, pilot_id)
