"""The provisioning service: committed pilots → isolated tenant clouds.

For each pilot: a ``Tenant`` row and its desired state
(:mod:`ngc_pilot.tenant_rows`), the gates (:mod:`ngc_pilot.provisioning_gates`:
withdrawn, data processing agreement, pilot period, capacity), then each
tenant run through the step ledger (:mod:`ngc_pilot.tenant_runs`).  Several
tenants run concurrently (bounded); each worker has its own cloud connection
and database session.  Also here: the teardown, and reading tenants back
(rows, detail, isolation check, bundle).

Over 400 lines because provisioning, teardown and reading tenants back share
the gates, the worker pool and the per-platform dispatch; the namespace half
and the members already live in modules of their own.

This module deliberately holds no step-by-step cloud logic (``provisioner``)
and no lifecycle rules (:mod:`ngc_pilot.lifecycle`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot import (
    audit,
    member_reads,
    members,
    namespace_plans,
    namespace_teardown,
    namespace_tenants,
    namespace_verify,
)
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.models import Application, Pilot, ProvisionStep, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.provisioning_gates import (
    check_capacity,
    check_pilots,
    over_capacity,
    period_ended,
)
from ngc_pilot.tenant_rows import (
    committed_pilots,
    desired_for,
    ensure_tenant,
    waiting_for_agreement,
)
from ngc_pilot.tenant_runs import (
    Progress,
    TenantOutcome,
    credential_delivered,
    record_step,
    run_tenant,
)
from ngc_pilot.tenant_state import set_state
from policies.nomination import ID_RULE, is_valid_id
from policies.problems import Problem
from provisioner import environment
from provisioner.apply import ApplyReport, apply
from provisioner.backend import CloudError, Probe, StepResult, isolation_probe, observe_all
from provisioner.model import Change, DesiredTenant, ObservedTenant
from provisioner.plan import plan, plan_teardown

__all__ = [
    "Provisioner",
    "TeardownOutcome",
    "TenantOutcome",
    "environment_info",
    "plan_pilots",
    "provision",
    "teardown",
    "tenant_detail",
    "tenants",
    "all_tenants",
    "teardown_pilot",
    "verify",
    "waiting_for_agreement",
]


def _no_tenant(pilot_id: str) -> NotFoundError:
    return NotFoundError([Problem("tenant", "pilot", pilot_id, "no tenant for this pilot")])


# ------------------------------------------------------------------------ planning


def plan_pilots(
    prov: Provisioner, pilot_ids: Sequence[str] = (), *, platform: str | None = None
) -> list[TenantOutcome]:
    """The plan of each pilot's tenant on each of its platforms (only ``platform`` if given),
    without changing the cloud, the cluster or the database."""
    namespace_tenants.check_platform(prov, platform)
    out = []
    with session_scope(prov.engine) as session:
        pilots = committed_pilots(session, pilot_ids)
        order = {p.id: i for i, p in enumerate(pilots)}
        chosen = namespace_tenants.platforms_for(session, prov, pilots, platform)
        kube_ids = [p.id for p in pilots if "kubernetes" in chosen[p.id]]
        pilots = [p for p in pilots if "openstack" in chosen[p.id]]
        backend = prov.backend_factory() if pilots else None
        for pilot in pilots:
            app = session.get(Application, pilot.application_id)
            tenant = ensure_tenant(session, pilot, app, prov)  # rolled back below
            desired = desired_for(tenant, pilot, app, prov)
            observed = backend.observe(desired)
            delivered = credential_delivered(
                prov, pilot.id, tenant.credential_id, observed.app_credential_id
            )
            the_plan = plan(desired, observed, credential_delivered=delivered)
            out.append(
                TenantOutcome(pilot.id, [c.as_dict() for c in the_plan.changes], state=tenant.state)
            )
        session.rollback()  # planning writes nothing
    out.extend(namespace_plans.plan_namespaces(prov, kube_ids))
    return sorted(out, key=lambda o: (order[o.pilot_id], o.platform != "openstack"))


# ------------------------------------------------------------------------ applying


def provision(
    prov: Provisioner,
    pilot_ids: Sequence[str] = (),
    *,
    parallel: int = 4,
    allow_overcommit: bool = False,
    progress: Progress | None = None,
    today: date | None = None,
    platform: str | None = None,
) -> list[TenantOutcome]:
    """Create or converge each pilot's tenant on each of its platforms; one outcome per tenant.

    ``progress`` is called after each step is recorded in the ledger;
    ``today`` (default: the UTC date now) decides whether a pilot's period has ended;
    ``platform`` (``openstack`` | ``kubernetes``) overrides the platforms the
    tenancy policy gives each pilot from its task types.
    """
    day = today or utcnow().date()
    namespace_tenants.check_platform(prov, platform)
    with session_scope(prov.engine) as session:
        pilots = committed_pilots(session, pilot_ids)
        if not pilot_ids:
            # Without explicit ids, pilots still waiting for a signed agreement
            # are left for later (``waiting_for_agreement``), and pilots whose
            # period has ended are the lifecycle's, not an error.
            waiting = set(waiting_for_agreement(session))
            pilots = [p for p in pilots if p.id not in waiting and not period_ended(p, day)]
        check_pilots(session, pilots, day)
        asked = [p.id for p in pilots]
        chosen = namespace_tenants.platforms_for(session, prov, pilots, platform)
        kube_pilots = [p for p in pilots if "kubernetes" in chosen[p.id]]
        over = []
        if kube_pilots:
            kube = prov.kube_backend_factory()
            try:
                over = [
                    v
                    for v in namespace_tenants.check_capacity(session, prov, kube_pilots, kube)
                    if v.over
                ]
                for pilot in kube_pilots:
                    namespace_tenants.ensure_row(session, prov, pilot, kube.server())
            finally:
                kube.close()
        pilots = [p for p in pilots if "openstack" in chosen[p.id]]
        tenants, wanted = [], []
        for pilot in pilots:
            app = session.get(Application, pilot.application_id)
            tenants.append(ensure_tenant(session, pilot, app, prov))
            wanted.append(desired_for(tenants[-1], pilot, app, prov))
        ids = [p.id for p in pilots]
        cloud = prov.backend_factory() if pilots or not kube_pilots else None
        # The first look only reads: it runs while the capacity gate reads
        # Placement, and is thrown away if the gate refuses.
        looking = None
        if pilots:
            looker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-look")
            looking = looker.submit(_first_look, cloud, ids, wanted)
            looker.shutdown(wait=False)  # the look runs on; nothing else is sent there
        if cloud is not None:
            verdicts = check_capacity(session, prov, tenants, cloud)
            over = [v for v in verdicts if v.over] + over
        if over and not allow_overcommit:
            session.rollback()
            raise over_capacity(over)
        if over:
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.overcommit_allowed",
                subject=", ".join(asked)[:200],
                details={
                    "over": [
                        {"resource": v.resource, "promised": v.promised, "available": v.available}
                        for v in over
                    ]
                },
            )
        kube_ids = [p.id for p in kube_pilots]
    first_look = looking.result() if looking is not None else {}
    # One tenant reuses the backend of its first look (its domain and roles known).
    reuse = cloud if len(ids) == 1 else None
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(ids) or 1))) as pool:
        outcomes = list(
            pool.map(
                lambda pid: _run_with_members(prov, pid, progress, first_look.get(pid), reuse),
                ids,
            )
        )
    if kube_ids:
        kube_outcomes = namespace_tenants.provision(prov, kube_ids, progress)
        outcomes.extend(kube_outcomes)
        for outcome in kube_outcomes:
            # a pilot with only a namespace: its roster gets service accounts and kubeconfigs
            if outcome.state == "active" and outcome.pilot_id not in ids:
                members.add_roster(prov, outcome.pilot_id)
    return outcomes


def _first_look(
    cloud: Any, ids: Sequence[str], wanted: Sequence[DesiredTenant]
) -> dict[str, ObservedTenant]:
    """Each tenant's first observation: its own reads for one tenant, else one
    listing per resource kind for all of them (as reconcile).

    A tenant whose own reads failed, or every tenant when a listing failed,
    is left out: its run observes it itself (and reports the error if it
    persists).
    """
    try:
        found = [cloud.observe(wanted[0])] if len(ids) == 1 else observe_all(cloud, wanted)
    except CloudError:
        return {}
    return {
        pid: observed
        for pid, observed in zip(ids, found, strict=True)
        if isinstance(observed, ObservedTenant)
    }


def _run_with_members(
    prov: Provisioner,
    pilot_id: str,
    progress: Progress | None,
    observed: ObservedTenant | None = None,
    cloud: Any = None,
) -> TenantOutcome:
    """Converge the tenant, then give the members its nomination lists their access."""
    outcome = run_tenant(prov, pilot_id, progress, observed=observed, cloud=cloud)
    if outcome.state == "active":
        members.add_roster(prov, pilot_id)
    return outcome


# ------------------------------------------------------------------------ teardown


@dataclass
class TeardownOutcome:
    pilot_id: str
    report: ApplyReport
    leftovers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "platform": "openstack",
            "removed": self.report.done,
            "failed_step": self.report.failed,
            "error": self.report.error,
            "leftovers": self.leftovers,
            "clean": self.report.ok and not self.leftovers,
        }


def teardown_pilot(
    prov: Provisioner, pilot_id: str, *, platform: str | None = None, reason: str | None = None
) -> list[TeardownOutcome | namespace_teardown.NamespaceTeardown]:
    """Tear down the pilot's tenant on ``platform``, or on every platform it has one.

    The namespace goes first: the OpenStack teardown removes the whole bundle folder.
    """
    namespace_tenants.check_platform(prov, platform)
    with session_scope(prov.engine) as session:
        has_kube = namespace_teardown.has_tenant(session, pilot_id)
        has_openstack = session.get(Tenant, pilot_id) is not None
    if platform == "kubernetes" and not has_kube or platform == "openstack" and not has_openstack:
        raise _no_tenant(pilot_id)
    out: list[TeardownOutcome | namespace_teardown.NamespaceTeardown] = []
    if has_kube and platform in (None, "kubernetes"):
        out.append(namespace_teardown.teardown(prov, pilot_id, reason=reason))
    if platform in (None, "openstack") and (has_openstack or not has_kube):
        out.append(teardown(prov, pilot_id, reason=reason))
    return out


def teardown(prov: Provisioner, pilot_id: str, *, reason: str | None = None) -> TeardownOutcome:
    """Remove everything of the OpenStack tenant in reverse order, then prove nothing is left."""
    backend = prov.backend_factory()
    run_id = uuid.uuid4().hex[:12]
    with session_scope(prov.engine) as session:
        pilot = session.get(Pilot, pilot_id)
        tenant = session.get(Tenant, pilot_id)
        if pilot is None or tenant is None:
            raise _no_tenant(pilot_id)
        app = session.get(Application, pilot.application_id)
        desired = desired_for(tenant, pilot, app, prov)
    # Members' users live outside the project's group when they are readers,
    # and every member's user outlives the group: revoke them first.
    revoked = members.revoke_all(prov, pilot_id, desired)
    if revoked is not None:
        set_state(prov, pilot_id, "failed", error=revoked.error)
        return TeardownOutcome(pilot_id, revoked)
    observed = backend.observe(desired, deep=True)
    the_plan = plan_teardown(desired, observed)

    def ledger(change: Change, status: str, result: StepResult | None, error: str | None) -> None:
        record_step(prov, pilot_id, run_id, change, status, result, error)

    report = apply(the_plan, desired, backend, ledger=ledger)
    leftovers = backend.leftovers(desired, observed.project_id) if report.ok else []
    folder = prov.environments_dir / pilot_id
    if report.ok and not leftovers:
        if folder.is_dir():
            shutil.rmtree(folder)  # the PI's bundle and every member's
        with session_scope(prov.engine) as session:
            tenant = session.get(Tenant, pilot_id)
            already = tenant.state == "torn_down"
            tenant.state = "torn_down"
            tenant.credential_id = tenant.environment_path = None
            tenant.updated_at = utcnow()
            session.add(tenant)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.torn_down",
                subject=pilot_id,
                reason=reason,
                details={"removed": len(report.done), "already": already},
            )
    else:
        set_state(
            prov, pilot_id, "failed", error=report.error or f"leftovers: {', '.join(leftovers)}"
        )
    return TeardownOutcome(pilot_id, report, leftovers)


# ----------------------------------------------------------------- reading / verify


def all_tenants(session: Session) -> list[dict[str, Any]]:
    """Every tenant on every platform, by pilot (OpenStack's first)."""
    rows = tenants(session) + namespace_tenants.rows(session)
    return sorted(rows, key=lambda r: (r["pilot"], r["platform"] != "openstack"))


def tenants(session: Session) -> list[dict[str, Any]]:
    """The OpenStack tenants (one per pilot)."""
    rows = []
    for tenant in session.exec(select(Tenant).order_by(col(Tenant.pilot_id))).all():
        pilot = session.get(Pilot, tenant.pilot_id)
        rows.append(
            {
                "pilot": tenant.pilot_id,
                "platform": "openstack",
                "state": tenant.state,
                "size": tenant.size,
                "cloud": tenant.cloud,
                "project": tenant.project_name,
                "project_id": tenant.project_id,
                "cidr": tenant.cidr,
                "credential_id": tenant.credential_id,
                "environment": tenant.environment_path,
                "planned_start": pilot.planned_start.isoformat(),
                "planned_end": pilot.planned_end.isoformat(),
                "last_error": tenant.last_error,
                "updated_at": tenant.updated_at.isoformat(),
            }
        )
    return rows


def tenant_detail(session: Session, prov: Provisioner, pilot_id: str) -> dict[str, Any]:
    """The pilot's OpenStack tenant (else its namespace tenant): row, quotas and step ledger."""
    tenant = session.get(Tenant, pilot_id)
    if tenant is not None:
        row = next(r for r in tenants(session) if r["pilot"] == pilot_id)
        size = prov.tenant_policy.sizes[tenant.size]
        row["quotas"] = {**size.compute_quota(), **size.network_quota(), **size.volume_quota()}
    else:
        row = next((r for r in namespace_tenants.rows(session) if r["pilot"] == pilot_id), None)
        if row is None:
            raise _no_tenant(pilot_id)
        kube = session.get(KubeTenant, pilot_id)
        # the ResourceQuota as it should be (zero for every key while suspended)
        row["quotas"] = dict(namespace_tenants.desired_for(session, prov, kube).quota)
    row["steps"] = [
        {
            "run": s.run_id,
            "step": s.step,
            "status": s.status,
            "resource_id": s.resource_id,
            "error": s.error,
            "at": s.at.isoformat(),
        }
        for s in session.exec(
            select(ProvisionStep)
            .where(ProvisionStep.pilot_id == pilot_id)
            .order_by(col(ProvisionStep.id))
        ).all()
        if s.status != "started"
    ]
    return row


def verify(prov: Provisioner) -> list[Probe]:
    """Each tenant, with its own credential, probes every other tenant (all must be invisible)."""
    backend = prov.backend_factory()
    with session_scope(prov.engine) as session:
        active = [
            t
            for t in session.exec(
                select(Tenant).where(Tenant.state == "active").order_by(col(Tenant.pilot_id))
            ).all()
        ]
        targets = {}
        for tenant in active:
            pilot = session.get(Pilot, tenant.pilot_id)
            app = session.get(Application, pilot.application_id)
            desired = desired_for(tenant, pilot, app, prov)
            observed = backend.observe(desired)
            targets[tenant.pilot_id] = {
                "project_id": observed.project_id or "",
                "network_id": observed.network_id or "",
                "subnet_id": observed.subnet_id or "",
                "router_id": observed.router_id or "",
                "security_group_id": observed.security_group_id or "",
            }
    probes: list[Probe] = []
    for pilot_id in targets:
        credential = environment.read_credential(prov.environments_dir / pilot_id)
        if credential is None:
            probes.append(
                Probe(
                    pilot_id,
                    "(self)",
                    "credential bundle",
                    True,
                    "missing: cannot verify this tenant",
                )
            )
            continue
        others = {k: v for k, v in targets.items() if k != pilot_id}
        probes.extend(isolation_probe(backend).probe_isolation(pilot_id, credential, others))
    # A removed member's revoked credential must get no token at all.
    probes.extend(member_reads.verify_removed(prov, list(targets)))
    if prov.kube_backend_factory is not None:
        probes.extend(namespace_verify.verify(prov))
    return probes


def environment_info(prov: Provisioner, pilot_id: str) -> dict[str, Any]:
    # A pilot id never names a path outside the environments folder ("../x", "/etc").
    root = prov.environments_dir.resolve()
    if not is_valid_id(pilot_id) or (root / pilot_id).resolve().parent != root:
        raise InputError([Problem("environment", "pilot", pilot_id, ID_RULE)])
    return environment.describe(prov.environments_dir / pilot_id)
