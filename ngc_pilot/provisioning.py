"""The provisioning service: committed pilots → isolated tenant clouds.

For each pilot: a ``Tenant`` row (size chosen from the request, a subnet
allocated from the pool without overlap), the desired state, a look at the
cloud, the plan, and ``apply`` with every step written to the step ledger and
the audit log as it happens.  Several tenants run concurrently (bounded); each
worker has its own cloud connection and database session.

Gates before anything is applied: the data processing agreement must be
``signed``, and the quotas of all tenants must fit Placement's capacity unless
the operator explicitly allows over-commit.

Test hook: ``NGC_PILOT_TEST_CRASH_AFTER_STEPS=N`` kills this process with SIGKILL
right after the N-th step is recorded done, to prove a re-run converges.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.models import Application, Pilot, ProvisionStep, Tenant
from policies import capacity as capacity_policy
from policies.lifecycle import LifecyclePolicy, load_lifecycle_policy
from policies.nomination import ID_RULE, is_valid_id
from policies.problems import Problem
from policies.tenancy import TenantPolicy, allocate_cidr, choose_size
from provisioner import environment
from provisioner.apply import ApplyReport, apply
from provisioner.backend import CloudBackend, CloudError, Probe, StepResult
from provisioner.desired import desired_tenant, project_name
from provisioner.model import Change, DesiredTenant, Plan
from provisioner.plan import plan, plan_teardown
from provisioner.secrets import Secret

ACTIVE_STATES = ("provisioning", "active", "failed", "suspended")
TRANSIENT_RETRIES = 3  # re-observe and re-plan after a transient cloud error, with backoff
Progress = Callable[[str, str, int, int], None]  # pilot, step, index, total

_crash_lock = threading.Lock()
_steps_done = 0


@dataclass
class Provisioner:
    """What the service needs: database, policy, a way to get a backend, where bundles go."""

    engine: Engine
    tenant_policy: TenantPolicy
    backend_factory: Callable[[], CloudBackend]
    cloud: str
    environments_dir: Path
    actor: str
    # Names the data-access role in every desired state; None: the shipped policy.
    lifecycle_policy: LifecyclePolicy | None = None
    prices_file: Path | None = None  # for final invoices; None: the shipped price list

    def lifecycle(self) -> LifecyclePolicy:
        if self.lifecycle_policy is None:
            self.lifecycle_policy = load_lifecycle_policy()
        return self.lifecycle_policy


@dataclass
class TenantOutcome:
    pilot_id: str
    plan: list[dict[str, Any]]
    report: ApplyReport | None = None
    state: str = "planned"
    environment: str | None = None
    mutating_calls: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "state": self.state,
            "changes": self.plan,
            "applied": self.report.done if self.report else [],
            "failed_step": self.report.failed if self.report else None,
            "error": self.report.error if self.report else None,
            "environment": self.environment,
            "mutating_calls": self.mutating_calls,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------- tenant rows


def _pilots(session: Session, pilot_ids: Sequence[str]) -> list[Pilot]:
    if pilot_ids:
        found = {
            p.id: p
            for p in session.exec(select(Pilot).where(col(Pilot.id).in_(list(pilot_ids)))).all()
        }
        missing = [pid for pid in pilot_ids if pid not in found]
        if missing:
            raise NotFoundError(
                [
                    Problem(
                        "command line",
                        "PILOT",
                        m,
                        "no committed pilot with this id; see `ngc-pilot select pilots`",
                    )
                    for m in missing
                ]
            )
        return [found[pid] for pid in pilot_ids]
    return list(
        session.exec(select(Pilot).where(Pilot.state == "selected").order_by(col(Pilot.id))).all()
    )


def waiting_for_agreement(session: Session) -> list[str]:
    """Selected pilots that get no tenant yet: their data processing agreement is not signed."""
    out = []
    for pilot in session.exec(
        select(Pilot).where(Pilot.state == "selected").order_by(col(Pilot.id))
    ).all():
        app = session.get(Application, pilot.application_id)
        if app.data_processing_agreement != "signed":
            out.append(pilot.id)
    return out


def ensure_tenant(session: Session, pilot: Pilot, app: Application, prov: Provisioner) -> Tenant:
    tenant = session.get(Tenant, pilot.id)
    if tenant is not None and tenant.state != "torn_down":
        return tenant
    resources = app.document["resources"]
    size = choose_size(
        prov.tenant_policy, resources["vcpus"], resources["ram_gb"], resources["gpus"]
    )
    taken = [
        t.cidr
        for t in session.exec(select(Tenant).where(Tenant.state != "torn_down")).all()
        if t.pilot_id != pilot.id
    ]
    cidr = allocate_cidr(prov.tenant_policy, taken)
    if tenant is None:
        tenant = Tenant(
            pilot_id=pilot.id,
            cloud=prov.cloud,
            size=size,
            project_name=project_name(prov.tenant_policy, pilot.id),
            cidr=cidr,
        )
    else:
        tenant.size, tenant.cidr, tenant.state, tenant.cloud = size, cidr, "planned", prov.cloud
        tenant.project_id = tenant.credential_id = tenant.environment_path = tenant.last_error = (
            None
        )
        tenant.updated_at = utcnow()
    session.add(tenant)
    audit.record(
        session,
        actor=prov.actor,
        action="tenant.planned",
        subject=pilot.id,
        details={"size": size, "cidr": cidr, "cloud": prov.cloud},
    )
    session.flush()
    return tenant


def desired_for(
    tenant: Tenant,
    pilot: Pilot,
    app: Application,
    prov: Provisioner,
    *,
    suspended: bool | None = None,
    data_access: bool | None = None,
) -> DesiredTenant:
    """The tenant as it should be; suspension and data access follow the tenant
    row unless given (the lifecycle compares a state with its successor)."""
    return desired_tenant(
        pilot_id=pilot.id,
        pilot_name=app.name,
        pi_email=app.pi_email,
        size=tenant.size,
        cidr=tenant.cidr,
        end=pilot.planned_end,
        policy=prov.tenant_policy,
        suspended=tenant.suspended_at is not None if suspended is None else suspended,
        data_access=(
            tenant.data_access_granted_at is not None if data_access is None else data_access
        ),
        data_access_role=prov.lifecycle().data_access.role,
    )


def _gate(session: Session, pilots: Sequence[Pilot]) -> None:
    problems = []
    for pilot in pilots:
        app = session.get(Application, pilot.application_id)
        if pilot.state == "withdrawn":
            problems.append(
                Problem(
                    "pilot",
                    "state",
                    pilot.state,
                    f"{pilot.id} was withdrawn by a later selection; it gets no tenant",
                )
            )
        elif app.data_processing_agreement != "signed":
            problems.append(
                Problem(
                    "application",
                    "eligibility.data_processing_agreement",
                    app.data_processing_agreement,
                    f"{pilot.id}: the data processing agreement must be 'signed' before a tenant is created",
                )
            )
    if problems:
        raise InputError(problems)


def _capacity(
    session: Session, prov: Provisioner, new: Sequence[Tenant], backend: CloudBackend
) -> list[capacity_policy.CapacityVerdict]:
    counted = {
        t.pilot_id: t
        for t in session.exec(select(Tenant).where(col(Tenant.state).in_(ACTIVE_STATES))).all()
    }
    for tenant in new:
        counted[tenant.pilot_id] = tenant
    promised = {"cores": 0.0, "ram_mb": 0.0}
    for tenant in counted.values():
        size = prov.tenant_policy.sizes[tenant.size]
        promised["cores"] += size.cores
        promised["ram_mb"] += size.ram_mb
    available = {
        line.resource: line.total for line in backend.capacity() if line.resource in promised
    }
    return capacity_policy.check(promised, available)


# ------------------------------------------------------------------------ planning


def plan_pilots(prov: Provisioner, pilot_ids: Sequence[str] = ()) -> list[TenantOutcome]:
    """The plan of each pilot's tenant, without changing the cloud."""
    backend = prov.backend_factory()
    out = []
    with session_scope(prov.engine) as session:
        pilots = _pilots(session, pilot_ids)
        for pilot in pilots:
            app = session.get(Application, pilot.application_id)
            tenant = ensure_tenant(session, pilot, app, prov)  # rolled back below
            desired = desired_for(tenant, pilot, app, prov)
            observed = backend.observe(desired)
            delivered = _delivered_for(
                prov, pilot.id, tenant.credential_id, observed.app_credential_id
            )
            the_plan = plan(desired, observed, credential_delivered=delivered)
            out.append(
                TenantOutcome(pilot.id, [c.as_dict() for c in the_plan.changes], state=tenant.state)
            )
        session.rollback()  # planning writes nothing
    return out


# ------------------------------------------------------------------------ applying


def provision(
    prov: Provisioner,
    pilot_ids: Sequence[str] = (),
    *,
    parallel: int = 4,
    allow_overcommit: bool = False,
    progress: Progress | None = None,
) -> list[TenantOutcome]:
    """Create or converge each pilot's tenant; returns one outcome per pilot."""
    with session_scope(prov.engine) as session:
        pilots = _pilots(session, pilot_ids)
        if not pilot_ids:
            # Without explicit ids, pilots still waiting for a signed agreement
            # are left for later (``waiting_for_agreement``), not an error.
            waiting = set(waiting_for_agreement(session))
            pilots = [p for p in pilots if p.id not in waiting]
        _gate(session, pilots)
        tenants = []
        for pilot in pilots:
            tenants.append(
                ensure_tenant(session, pilot, session.get(Application, pilot.application_id), prov)
            )
        verdicts = _capacity(session, prov, tenants, prov.backend_factory())
        over = [v for v in verdicts if v.over]
        if over and not allow_overcommit:
            session.rollback()
            raise InputError(
                [
                    Problem(
                        "capacity",
                        v.resource,
                        v.promised,
                        v.message() + "; use --allow-overcommit to proceed anyway",
                    )
                    for v in over
                ]
            )
        if over:
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.overcommit_allowed",
                subject=", ".join(p.id for p in pilots)[:200],
                details={
                    "over": [
                        {"resource": v.resource, "promised": v.promised, "available": v.available}
                        for v in over
                    ]
                },
            )
        ids = [p.id for p in pilots]
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(ids) or 1))) as pool:
        return list(pool.map(lambda pid: _provision_one(prov, pid, progress), ids))


def _provision_one(prov: Provisioner, pilot_id: str, progress: Progress | None) -> TenantOutcome:
    started = time.perf_counter()
    backend = prov.backend_factory()
    run_id = uuid.uuid4().hex[:12]
    with session_scope(prov.engine) as session:
        pilot = session.get(Pilot, pilot_id)
        app = session.get(Application, pilot.application_id)
        desired = desired_for(session.get(Tenant, pilot_id), pilot, app, prov)
    outcome = TenantOutcome(pilot_id, [])
    try:
        observed = backend.observe(desired)
    except CloudError as exc:
        _set_state(prov, pilot_id, "failed", error=str(exc))
        outcome.state = "failed"
        outcome.report = ApplyReport(pilot_id, failed="observe", error=str(exc))
        return outcome
    done: list[str] = []
    report = ApplyReport(pilot_id)
    # Some resources appear only as a consequence of others (Neutron makes a
    # project's "default" security group when the project's first network or
    # group is created), so converge: observe, plan, apply until the plan is empty.
    retries = 0
    for _ in range(3 + TRANSIENT_RETRIES):
        credential_id = _credential_id(prov, pilot_id)
        delivered = _delivered_for(prov, pilot_id, credential_id, observed.app_credential_id)
        the_plan = plan(desired, observed, credential_delivered=delivered)
        if the_plan.empty:
            report = ApplyReport(pilot_id)  # converged, whatever an earlier pass met
            break
        outcome.plan.extend(c.as_dict() for c in the_plan.changes)
        _set_state(prov, pilot_id, "provisioning")
        offset = len(done)

        def passed(pilot: str, step: str, index: int, total: int, offset: int = offset) -> None:
            if progress:
                progress(pilot, step, offset + index, offset + total)

        report = _apply_recorded(prov, pilot_id, run_id, the_plan, desired, backend, passed)
        done.extend(report.done)
        if not report.ok:
            if not report.transient or retries >= TRANSIENT_RETRIES:
                break
            # A dropped connection may or may not have done the step: never
            # repeat it blindly; look again and plan from what is there.
            retries += 1
            time.sleep(2**retries)
        try:
            observed = backend.observe(desired)
        except CloudError as exc:
            report = ApplyReport(
                pilot_id, failed="observe", error=str(exc), transient=exc.transient
            )
            break
    report.done = done
    outcome.report = report
    outcome.mutating_calls = getattr(backend, "mutating_calls", 0)
    if report.ok:
        settled = "suspended" if desired.suspended else "active"
        _set_state(prov, pilot_id, settled, project_id=observed.project_id)
        outcome.state = settled
    else:
        _set_state(prov, pilot_id, "failed", error=report.error)
        outcome.state = "failed"
    outcome.environment = str(prov.environments_dir / pilot_id)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _credential_id(prov: Provisioner, pilot_id: str) -> str | None:
    with session_scope(prov.engine) as session:
        return session.get(Tenant, pilot_id).credential_id


def _apply_recorded(
    prov: Provisioner,
    pilot_id: str,
    run_id: str,
    the_plan: Plan,
    desired: DesiredTenant,
    backend: CloudBackend,
    progress: Progress | None,
) -> ApplyReport:
    """Apply with every step in the ledger and audit log; the bundle is written with the credential."""
    total = len(the_plan.changes)
    counter = {"i": 0}

    def ledger(change: Change, status: str, result: StepResult | None, error: str | None) -> None:
        _record_step(prov, pilot_id, run_id, change, status, result, error)
        if status == "done":
            counter["i"] += 1
            if progress:
                progress(pilot_id, change.step, counter["i"], total)
            _maybe_crash()

    def on_secret(secret: Secret, result: StepResult) -> None:
        with session_scope(prov.engine) as session:
            pilot = session.get(Pilot, pilot_id)
            app = session.get(Application, pilot.application_id)
            bundle = environment.write_bundle(
                prov.environments_dir,
                desired,
                auth_url=backend.auth_url(),
                region=backend.region(),
                credential_id=result.resource_id or "",
                secret=secret,
                project_id=result.extra.get("project_id", ""),
                pilot_name=app.name,
                start=pilot.planned_start,
                end=pilot.planned_end,
                support_contact=prov.tenant_policy.tenancy.support_contact,
            )
            tenant = session.get(Tenant, pilot_id)
            tenant.credential_id = result.resource_id
            tenant.environment_path = str(bundle.path)
            tenant.updated_at = utcnow()
            session.add(tenant)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.environment_written",
                subject=pilot_id,
                details={"path": str(bundle.path), "credential_id": result.resource_id},
            )

    return apply(the_plan, desired, backend, ledger=ledger, on_secret=on_secret)


def _delivered_for(
    prov: Provisioner, pilot_id: str, credential_id: str | None, observed_id: str | None
) -> bool:
    bundle = environment.read_credential(prov.environments_dir / pilot_id)
    if bundle is None:
        return False
    return bundle["id"] == (observed_id if observed_id is not None else credential_id)


def _maybe_crash() -> None:
    global _steps_done
    limit = os.environ.get("NGC_PILOT_TEST_CRASH_AFTER_STEPS")
    if not limit:
        return
    with _crash_lock:
        _steps_done += 1
        if _steps_done >= int(limit):
            os.kill(os.getpid(), signal.SIGKILL)


def _record_step(
    prov: Provisioner,
    pilot_id: str,
    run_id: str,
    change: Change,
    status: str,
    result: StepResult | None,
    error: str | None,
) -> None:
    with session_scope(prov.engine) as session:
        session.add(
            ProvisionStep(
                pilot_id=pilot_id,
                run_id=run_id,
                step=change.step[:300],
                action=change.action,
                resource=change.resource,
                status=status,
                resource_id=result.resource_id if result else None,
                error=error,
            )
        )
        if status != "started":
            audit.record(
                session,
                actor=prov.actor,
                action=f"tenant.step.{status}",
                subject=pilot_id,
                details={
                    "step": change.step,
                    "run": run_id,
                    "resource_id": result.resource_id if result else None,
                    "error": error,
                },
            )


def _set_state(
    prov: Provisioner,
    pilot_id: str,
    state: str,
    *,
    error: str | None = None,
    project_id: str | None = None,
) -> None:
    with session_scope(prov.engine) as session:
        tenant = session.get(Tenant, pilot_id)
        if tenant.state == state and not error and not project_id:
            return
        before = tenant.state
        tenant.state = state
        tenant.last_error = error
        if project_id:
            tenant.project_id = project_id
        tenant.updated_at = utcnow()
        session.add(tenant)
        audit.record(
            session,
            actor=prov.actor,
            action=f"tenant.{state}",
            subject=pilot_id,
            details={"from": before, "error": error, "project_id": project_id},
        )


# ------------------------------------------------------------------------ teardown


@dataclass
class TeardownOutcome:
    pilot_id: str
    report: ApplyReport
    leftovers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "removed": self.report.done,
            "failed_step": self.report.failed,
            "error": self.report.error,
            "leftovers": self.leftovers,
            "clean": self.report.ok and not self.leftovers,
        }


def teardown(prov: Provisioner, pilot_id: str, *, reason: str | None = None) -> TeardownOutcome:
    """Remove everything of the tenant in reverse order, then prove nothing is left."""
    backend = prov.backend_factory()
    run_id = uuid.uuid4().hex[:12]
    with session_scope(prov.engine) as session:
        pilot = session.get(Pilot, pilot_id)
        tenant = session.get(Tenant, pilot_id)
        if pilot is None or tenant is None:
            raise NotFoundError(
                [
                    Problem(
                        "command line",
                        "PILOT",
                        pilot_id,
                        "no tenant for this pilot; see `ngc-pilot tenants`",
                    )
                ]
            )
        app = session.get(Application, pilot.application_id)
        desired = desired_for(tenant, pilot, app, prov)
    observed = backend.observe(desired, deep=True)
    the_plan = plan_teardown(desired, observed)

    def ledger(change: Change, status: str, result: StepResult | None, error: str | None) -> None:
        _record_step(prov, pilot_id, run_id, change, status, result, error)

    report = apply(the_plan, desired, backend, ledger=ledger)
    leftovers = backend.leftovers(desired, observed.project_id) if report.ok else []
    folder = prov.environments_dir / pilot_id
    if report.ok and not leftovers:
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            path.unlink()
        if folder.is_dir():
            folder.rmdir()
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
        _set_state(
            prov, pilot_id, "failed", error=report.error or f"leftovers: {', '.join(leftovers)}"
        )
    return TeardownOutcome(pilot_id, report, leftovers)


# ----------------------------------------------------------------- reading / verify


def tenants(session: Session) -> list[dict[str, Any]]:
    rows = []
    for tenant in session.exec(select(Tenant).order_by(col(Tenant.pilot_id))).all():
        pilot = session.get(Pilot, tenant.pilot_id)
        rows.append(
            {
                "pilot": tenant.pilot_id,
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
    tenant = session.get(Tenant, pilot_id)
    if tenant is None:
        raise NotFoundError(
            [
                Problem(
                    "command line",
                    "PILOT",
                    pilot_id,
                    "no tenant for this pilot; see `ngc-pilot tenants`",
                )
            ]
        )
    row = next(r for r in tenants(session) if r["pilot"] == pilot_id)
    size = prov.tenant_policy.sizes[tenant.size]
    row["quotas"] = {**size.compute_quota(), **size.network_quota(), **size.volume_quota()}
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
        probes.extend(backend.probe_isolation(pilot_id, credential, others))
    return probes


def environment_info(prov: Provisioner, pilot_id: str) -> dict[str, Any]:
    # A pilot id never names a path outside the environments folder ("../x", "/etc").
    root = prov.environments_dir.resolve()
    if not is_valid_id(pilot_id) or (root / pilot_id).resolve().parent != root:
        raise InputError([Problem("command line", "pilot", pilot_id, ID_RULE)])
    return environment.describe(prov.environments_dir / pilot_id)
