"""Tenants for every interface: overview, detail, plan, provision, teardown, isolation check.

One transaction per read; the cloud is reached through the provisioner the
application context makes, and a cloud failure becomes ngc-pilot's own
transient or permanent error.  The researcher bundle's secret is never copied
into a view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ngc_pilot import provisioning, views
from ngc_pilot.db import session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.facade.base import FacadeBase, cloud_errors
from ngc_pilot.provisioning import TenantOutcome
from provisioner.backend import Probe

# A provisioning progress report, from a worker thread: (pilot, step, index, total).
Progress = Callable[[str, str, int, int], None]


@dataclass(frozen=True)
class TenantRow:
    """One pilot as the Tenants screen lists it: the pilot, and its tenant if it has one."""

    pilot_id: str
    name: str
    institution: str
    pilot_state: str  # selected | withdrawn
    planned_start: date
    planned_end: date
    waiting_for_agreement: bool  # selected, but the data processing agreement is not signed
    tenant_state: str | None = None  # None: no tenant yet; else planned|provisioning|active|...
    size: str | None = None
    project: str | None = None
    project_id: str | None = None
    cidr: str | None = None
    environment: str | None = None
    last_error: str | None = None
    updated_at: str | None = None
    platforms: str | None = None  # "openstack", "kubernetes" or "openstack+kubernetes"

    @property
    def status(self) -> str:
        """What operations should read first: the tenant's state, or why there is none."""
        if self.tenant_state is not None:
            return self.tenant_state
        if self.pilot_state == "withdrawn":
            return "withdrawn"
        if self.waiting_for_agreement:
            return "waiting for agreement"
        return "not provisioned"


@dataclass(frozen=True)
class TenantsOverview:
    rows: tuple[TenantRow, ...]
    waiting: tuple[str, ...]  # pilots that get no tenant until their agreement is signed
    cloud: str  # the clouds.yaml entry acted as, and from which file

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.status] = out.get(row.status, 0) + 1
        return out


@dataclass(frozen=True)
class StepView:
    run: str
    step: str
    status: str  # done | failed
    resource_id: str | None
    error: str | None
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class EnvironmentView:
    """Where a researcher bundle is and what it holds; never the secret itself."""

    path: str
    exists: bool
    mode: str | None
    files: tuple[tuple[str, str, int], ...]  # (name, mode, bytes)
    credential_id: str | None
    facts: dict[str, Any]  # environment.json (holds no secret)


@dataclass(frozen=True)
class TenantDetail:
    pilot_id: str
    tenant: dict[str, Any] | None  # ``provisioning.tenant_detail`` without its steps; None: none
    quotas: dict[str, int | str]  # a namespace's ResourceQuota holds quantities ("64Gi")
    steps: tuple[StepView, ...]
    environment: EnvironmentView


@dataclass(frozen=True)
class PlanView:
    """The changes applying would make to one pilot's tenant (nothing is changed)."""

    pilot_id: str
    state: str
    changes: tuple[dict[str, Any], ...]  # Change.as_dict(): action, resource, name, detail


@dataclass(frozen=True)
class TeardownView:
    """A pilot's teardown on each of its platforms, and the whole of it as one outcome."""

    pilot_id: str
    platforms: tuple[dict[str, Any], ...]  # each platform's outcome (``as_dict``)

    def as_dict(self) -> dict[str, Any]:
        errors = [p["error"] for p in self.platforms if p["error"]]
        return {
            "pilot": self.pilot_id,
            "platform": "+".join(p["platform"] for p in self.platforms),
            "removed": [r for p in self.platforms for r in p["removed"]],
            "failed_step": next(
                (p["failed_step"] for p in self.platforms if p["failed_step"]), None
            ),
            "error": "; ".join(errors) or None,
            "leftovers": [x for p in self.platforms for x in p["leftovers"]],
            "clean": all(p["clean"] for p in self.platforms),
        }


class TenantsArea(FacadeBase):
    def tenants(self) -> TenantsOverview:
        """Every pilot with its tenant (if any), and who waits for a signed agreement."""
        with session_scope(self.engine) as session:
            pilots = views.pilots(session)
            platforms: dict[str, list[str]] = {}
            tenants: dict[str, dict[str, Any]] = {}
            # OpenStack's row first: a pilot with both shows its OpenStack tenant's facts,
            # unless that one is torn down and its namespace is not
            for t in reversed(provisioning.all_tenants(session)):
                shown = tenants.get(t["pilot"])
                if shown is None or shown["state"] == "torn_down" or t["state"] != "torn_down":
                    tenants[t["pilot"]] = t
                if t["state"] != "torn_down":
                    platforms.setdefault(t["pilot"], []).insert(0, t["platform"])
            waiting = tuple(provisioning.waiting_for_agreement(session))
        rows = []
        for p in sorted(pilots, key=lambda p: p.id):
            t = tenants.get(p.id, {})
            rows.append(
                TenantRow(
                    pilot_id=p.id,
                    name=p.name,
                    institution=p.institution,
                    pilot_state=p.state,
                    planned_start=p.planned_start,
                    planned_end=p.planned_end,
                    waiting_for_agreement=p.id in waiting,
                    tenant_state=t.get("state"),
                    size=t.get("size"),
                    project=t.get("project"),
                    project_id=t.get("project_id"),
                    cidr=t.get("cidr"),
                    environment=t.get("environment"),
                    last_error=t.get("last_error"),
                    updated_at=t.get("updated_at"),
                    platforms="+".join(platforms.get(p.id, [])) or None,
                )
            )
        return TenantsOverview(tuple(rows), waiting, self.cloud_label)

    def tenant_detail(self, pilot_id: str) -> TenantDetail:
        """The tenant's facts, quotas and step ledger, and its researcher environment."""
        prov = self._prov()
        with session_scope(self.engine) as session:
            try:
                row = provisioning.tenant_detail(session, prov, pilot_id)
            except InputError:  # no tenant (yet): only the environment location to show
                row = None
        info = provisioning.environment_info(prov, pilot_id)
        credential = info.get("credential") or {}
        environment = EnvironmentView(
            path=str(info["path"]),
            exists=bool(info["exists"]),
            mode=info.get("mode"),
            files=tuple(
                (name, str(meta["mode"]), int(meta["bytes"]))
                for name, meta in info.get("files", {}).items()
            ),
            credential_id=credential.get("id"),  # the secret is deliberately not copied
            facts=dict(info.get("environment") or {}),
        )
        if row is None:
            return TenantDetail(pilot_id, None, {}, (), environment)
        steps = tuple(
            StepView(s["run"], s["step"], s["status"], s["resource_id"], s["error"], s["at"])
            for s in row.pop("steps")
        )
        quotas = dict(row.pop("quotas"))
        return TenantDetail(pilot_id, row, quotas, steps, environment)

    def plan(self, pilot_id: str) -> PlanView:
        """What applying would change for the pilot's tenant on each of its platforms
        (reads the cloud and the cluster, changes nothing); each change names its platform."""
        with cloud_errors():
            outcomes = provisioning.plan_pilots(self._prov(), [pilot_id])
        changes = tuple({**c, "platform": o.platform} for o in outcomes for c in o.plan)
        return PlanView(pilot_id, outcomes[0].state if outcomes else "planned", changes)

    def provision(
        self, pilot_ids: Sequence[str] = (), *, progress: Progress | None = None
    ) -> list[TenantOutcome]:
        """Create or converge the tenants (every selected pilot with a signed agreement if none
        is named); ``progress`` is called from worker threads after each step."""
        with cloud_errors():
            return provisioning.provision(
                self._prov(), list(pilot_ids), parallel=self.parallel, progress=progress
            )

    def teardown(self, pilot_id: str) -> TeardownView:
        """Tear down the pilot's tenant on every platform it has one (namespace first)."""
        with cloud_errors():
            outcomes = provisioning.teardown_pilot(
                self._prov(), pilot_id, reason=f"confirmed in the TUI by {self.actor}"
            )
        return TeardownView(pilot_id, tuple(o.as_dict() for o in outcomes))

    def verify(self) -> list[Probe]:
        """Each active tenant, with its own credential, probes every other one."""
        with cloud_errors():
            return provisioning.verify(self._prov())
