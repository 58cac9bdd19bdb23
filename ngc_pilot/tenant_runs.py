"""Running a tenant through the step ledger: observe, plan, apply, record.

Why this exists: provisioning, drift repair, suspension and the data-access
switch all change a tenant's cloud the same way — a plan applied with every
step written to the ``ProvisionStep`` ledger and the audit log as it happens,
and the researcher bundle written the moment the credential's secret exists.
This module is that one way:

* :func:`run_tenant` — converge one tenant: observe, plan, apply until the plan
  is empty (retrying transient cloud errors by looking again, never by
  repeating a step), then set the tenant's state.  A new tenant (no project
  found) whose every change answered with what it asked is settled by those
  answers, without a confirming look (``provisioner.plan.settled_by_answers``;
  the audit row of its new state says which).  A resource of another
  pilot under this pilot's names fails this one tenant (``failed``, with the
  refusal as its error) instead of raising, so a loop over tenants goes on.
* :func:`apply_delta` — apply only the changes a decision (suspend, grant data
  access) adds to the plan; other drift is left to the reconcile job.
* :func:`apply_through_ledger` — apply one plan with the ledger and bundle.

The ledger is also the seam for fault injection: ``progress`` is called right
after each step is recorded done, so a test can kill the process there.  This
module deliberately does not choose which tenants to run, gate them, or tear
them down (:mod:`ngc_pilot.provisioning`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlmodel import Session

from ngc_pilot import audit, mail
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.models import Application, Pilot, ProvisionStep, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_state import set_state
from provisioner import environment
from provisioner.apply import ApplyReport, apply
from provisioner.backend import CloudBackend, CloudError, ForeignResourceError, StepResult
from provisioner.model import Change, DesiredTenant, ObservedTenant, Plan
from provisioner.plan import plan, settled_by_answers
from provisioner.secrets import Secret

TRANSIENT_RETRIES = 3  # re-observe and re-plan after a transient cloud error, with backoff
Progress = Callable[[str, str, int, int], None]  # pilot, step, index, total


@dataclass
class TenantOutcome:
    pilot_id: str
    plan: list[dict[str, Any]]
    report: ApplyReport | None = None
    state: str = "planned"
    environment: str | None = None
    mutating_calls: int = 0
    seconds: float = 0.0
    platform: str = "openstack"

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "platform": self.platform,
            "state": self.state,
            "changes": self.plan,
            "applied": self.report.done if self.report else [],
            "failed_step": self.report.failed if self.report else None,
            "error": self.report.error if self.report else None,
            "environment": self.environment,
            "mutating_calls": self.mutating_calls,
            "seconds": round(self.seconds, 3),
        }


def run_tenant(
    prov: Provisioner,
    pilot_id: str,
    progress: Progress | None,
    *,
    observed: ObservedTenant | None = None,
    cloud: CloudBackend | None = None,
) -> TenantOutcome:
    """Converge one tenant whose row exists; its state ends ``active``,
    ``suspended`` or ``failed``.

    ``observed``: the tenant as a first look just saw it (its own reads, or
    a bulk observation of many tenants); without it the tenant is observed
    first.  Every later look (after applying) is the tenant's own.
    ``cloud``: the backend to use (one this run alone uses); else one is made
    when first needed.
    """
    started = time.perf_counter()
    # the connection, made when first needed (a no-op needs none)
    made: list[CloudBackend] = [cloud] if cloud is not None else []

    def backend() -> CloudBackend:
        if not made:
            made.append(prov.backend_factory())
        return made[0]

    run_id = uuid.uuid4().hex[:12]
    with session_scope(prov.engine) as session:
        pilot = session.get(Pilot, pilot_id)
        app = session.get(Application, pilot.application_id)
        desired = desired_for(session.get(Tenant, pilot_id), pilot, app, prov)
    outcome = TenantOutcome(pilot_id, [])
    try:
        if observed is None:
            observed = backend().observe(desired)
    except CloudError as exc:
        set_state(prov, pilot_id, "failed", error=str(exc))
        outcome.state = "failed"
        outcome.report = ApplyReport(pilot_id, failed="observe", error=str(exc))
        return outcome
    done: list[str] = []
    report = ApplyReport(pilot_id)
    project_id, confirmed_by = observed.project_id, "observation"
    # Some resources appear only as a consequence of others (Neutron makes a
    # project's "default" security group when the project's first network or
    # group is created), so converge: observe, plan, apply until the plan is empty.
    retries = 0
    for _ in range(3 + TRANSIENT_RETRIES):
        credential_id = _credential_id(prov, pilot_id)
        delivered = credential_delivered(prov, pilot_id, credential_id, observed.app_credential_id)
        try:
            the_plan = plan(desired, observed, credential_delivered=delivered)
        except ForeignResourceError as exc:
            # Another pilot's (or nobody's) resource under this pilot's names:
            # this tenant fails, nothing is changed, and the caller goes on
            # with the others.
            report = ApplyReport(pilot_id, failed="plan", error=str(exc))
            break
        if the_plan.empty:
            report = ApplyReport(pilot_id)  # converged, whatever an earlier pass met
            break
        outcome.plan.extend(c.as_dict() for c in the_plan.changes)
        set_state(prov, pilot_id, "provisioning")
        offset = len(done)

        def passed(pilot: str, step: str, index: int, total: int, offset: int = offset) -> None:
            if progress:
                progress(pilot, step, offset + index, offset + total)

        report = apply_through_ledger(
            prov, pilot_id, run_id, the_plan, desired, backend(), passed, concurrent=True
        )
        done.extend(report.done)
        if report.ok and not report.unconfirmed and settled_by_answers(observed, the_plan):
            # A new tenant whose every change answered with what it asked:
            # nothing is left to plan, so no confirming look (the next
            # reconcile, and ``verify``, observe it again).
            project_id = next(
                (report.ids.get(c.step) for c in the_plan.changes if c.resource == "project"),
                None,
            )
            confirmed_by = "answers"
            break
        if not report.ok:
            if not report.transient or retries >= TRANSIENT_RETRIES:
                break
            # A dropped connection may or may not have done the step: never
            # repeat it blindly; look again and plan from what is there.
            retries += 1
            time.sleep(2**retries)
        try:
            observed = backend().observe(desired)
        except CloudError as exc:
            report = ApplyReport(
                pilot_id, failed="observe", error=str(exc), transient=exc.transient
            )
            break
        project_id = observed.project_id
    report.done = done
    outcome.report = report
    outcome.mutating_calls = getattr(made[0], "mutating_calls", 0) if made else 0
    if report.ok:
        settled = "suspended" if desired.suspended else "active"
        set_state(
            prov,
            pilot_id,
            settled,
            project_id=project_id,
            confirmed_by=confirmed_by,
            # Queued in the transaction that sets the tenant active: a crash loses neither.
            also=partial(queue_ready_notice, prov, pilot_id) if settled == "active" else None,
        )
        outcome.state = settled
    else:
        set_state(prov, pilot_id, "failed", error=report.error)
        outcome.state = "failed"
    outcome.environment = str(prov.environments_dir / pilot_id)
    outcome.seconds = time.perf_counter() - started
    return outcome


def queue_ready_notice(prov: Provisioner, pilot_id: str, session: Session) -> None:
    """Tell the PI the tenant is ready, in their language: once per pilot (key
    ``tenant-ready:<pilot>``), however often the tenant is provisioned or repaired
    back to active.  Runs in the caller's transaction (the one that sets it active)."""
    tenant = session.get(Tenant, pilot_id)
    pilot = session.get(Pilot, pilot_id)
    app = session.get(Application, pilot.application_id)
    mail.queue(
        session,
        key=f"tenant-ready:{pilot_id}",
        kind="tenant_ready",
        recipient=app.pi_email,
        language=mail.pi_language(app.document),
        pilot_id=pilot_id,
        context={
            "pi_name": app.pi_name,
            "pilot": pilot_id,
            "title": app.name,
            "project": tenant.project_name,
            "last_day": pilot.planned_end.isoformat(),
            "support_contact": prov.tenant_policy.tenancy.support_contact,
        },
    )


def apply_delta(
    prov: Provisioner,
    pilot_id: str,
    before: DesiredTenant,
    after: DesiredTenant,
    credential_id: str | None,
    backend: CloudBackend,
    observed: ObservedTenant | None = None,
) -> ApplyReport:
    """Apply only the changes that going from ``before`` to ``after`` adds to the plan."""
    if observed is None:
        observed = backend.observe(after)
    delivered = credential_delivered(prov, pilot_id, credential_id, observed.app_credential_id)
    old = plan(before, observed, credential_delivered=delivered).changes
    new = plan(after, observed, credential_delivered=delivered).changes
    delta = Plan(pilot_id, tuple(c for c in new if c not in old))
    if delta.empty:
        return ApplyReport(pilot_id)
    run_id = uuid.uuid4().hex[:12]
    return apply_through_ledger(prov, pilot_id, run_id, delta, after, backend, None)


def _credential_id(prov: Provisioner, pilot_id: str) -> str | None:
    with session_scope(prov.engine) as session:
        return session.get(Tenant, pilot_id).credential_id


def apply_through_ledger(
    prov: Provisioner,
    pilot_id: str,
    run_id: str,
    the_plan: Plan,
    desired: DesiredTenant,
    backend: CloudBackend,
    progress: Progress | None,
    *,
    concurrent: bool = False,
) -> ApplyReport:
    """Apply with every step in the ledger and audit log; the bundle is written with the credential.

    ``progress`` is called after each step is recorded done; ``concurrent``:
    the plan's independent chains run at once (``provisioner.chains``).
    """
    total = len(the_plan.changes)
    counter = {"i": 0}
    lock = threading.Lock()

    def ledger(change: Change, status: str, result: StepResult | None, error: str | None) -> None:
        record_step(prov, pilot_id, run_id, change, status, result, error)
        if status == "done":
            with lock:
                counter["i"] += 1
                index = counter["i"]
            if progress:
                progress(pilot_id, change.step, index, total)

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

    return apply(
        the_plan, desired, backend, ledger=ledger, on_secret=on_secret, concurrent=concurrent
    )


def credential_delivered(
    prov: Provisioner, pilot_id: str, credential_id: str | None, observed_id: str | None
) -> bool:
    """Whether the researcher bundle holds the credential the cloud has (or, if
    the cloud has none, the one the tenant row names)."""
    bundle = environment.read_credential(prov.environments_dir / pilot_id)
    if bundle is None:
        return False
    return bundle["id"] == (observed_id if observed_id is not None else credential_id)


def record_step(
    prov: Provisioner,
    pilot_id: str,
    run_id: str,
    change: Change,
    status: str,
    result: StepResult | None,
    error: str | None,
) -> None:
    """One ledger row per step status; every finished step is also audited."""
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
