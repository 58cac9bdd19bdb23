"""Namespace tenants: a pilot's tenant on the Kubernetes platform, through the step ledger.

Why this exists: :mod:`ngc_pilot.provisioning` runs OpenStack tenants; a pilot
whose platforms (``policies.platforms``, from its task types, or the
operator's ``--platform``) include ``kubernetes`` also gets a namespace on the
configured cluster (``kubernetes.kubeconfig``).  This module does for those
what ``provisioning``/``tenant_runs`` do for OpenStack, with the same ledger
(:func:`ngc_pilot.tenant_runs.record_step`) and audit log:

* :func:`platforms_for` — which platforms each pilot gets;
* :func:`check_capacity` — every namespace's ResourceQuota plus the new ones
  against the nodes' allocatable cpu, memory and GPUs;
* :func:`provision` — observe, plan, apply until converged; the TokenRequest
  token goes straight into the researcher's ``kubeconfig`` (0600) in the
  pilot's bundle folder, with a Kubernetes section in its ``README.md``, and
  each member's own token into their own bundle
  (:func:`provisioner.member_bundle.write_member_kubeconfig`, encrypted to
  their age key when they gave one);
* :func:`converge_members` — after a member is added or removed: the same run,
  so their service account, binding subject and token follow at once;
* verifying isolation and tearing down are in :mod:`ngc_pilot.namespace_verify`
  and :mod:`ngc_pilot.namespace_teardown`;
* :func:`rows` — the tenants listing's rows (``platform: kubernetes``).

A suspended namespace tenant (``suspended_at`` set by the lifecycle) has a
ResourceQuota of zero for every key: nothing new is admitted, nothing is
deleted, and its token has already expired with the tenant (at the end of the
last day); the RoleBinding is kept so a repaired suspension is just the quota.
No token is ever stored in the database or logged: only its expiry is
(``kube_tenant.token_expires_at`` for the PI's, ``member.kube_token_expires_at``
for a member's).
Over 400 lines because it is the one counterpart, for namespaces, of
``provisioning`` and ``tenant_runs`` together; a split along the same seam
(runs vs. reading/teardown) is the next step if it grows.
What this module deliberately does not do: gate pilots (withdrawn, agreement,
period — the caller does, once for both platforms), or touch OpenStack.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.kube_tenant_models import PLATFORM, KubeTenant
from ngc_pilot.member_models import Member
from ngc_pilot.models import Application, Pilot
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_runs import Progress, TenantOutcome, record_step
from policies import capacity as capacity_policy
from policies.platforms import PLATFORMS, choose_platforms
from policies.problems import Problem
from policies.tenancy import choose_size
from provisioner import member_bundle
from provisioner.apply import ApplyReport, apply
from provisioner.backend import CloudError, StepResult
from provisioner.environment import write_text
from provisioner.kubernetes import capacity as kube_capacity
from provisioner.kubernetes import kubeconfig
from provisioner.kubernetes.desired import NamespaceTenant, desired_namespace, namespace_quota
from provisioner.kubernetes.names import member_service_account, namespace_name
from provisioner.kubernetes.plan import plan
from provisioner.model import Change
from provisioner.secrets import Secret

if TYPE_CHECKING:
    from provisioner.kubernetes.backend import KubernetesBackend

CONVERGE_PASSES = 3
README = "README.md"
SECTION = "## Kubernetes"
# Members whose service account the namespace has: an ``adding`` one too (their
# token is issued before they are marked active), never a ``removing`` one.
MEMBER_STATES = ("adding", "active")


# ------------------------------------------------------------------ platforms


def no_cluster(value: str) -> InputError:
    return InputError(
        [
            Problem(
                "command line",
                "platform",
                value,
                "the kubernetes platform needs a cluster: set kubernetes.kubeconfig "
                "(NGC_PILOT_KUBERNETES__KUBECONFIG)",
            )
        ]
    )


def check_platform(prov: Provisioner, platform: str | None) -> None:
    """Refuse an unknown platform, or ``kubernetes`` without a configured cluster (one line)."""
    if platform is None:
        return
    if platform not in PLATFORMS:
        raise InputError(
            [
                Problem(
                    "command line",
                    "platform",
                    platform,
                    f"unknown platform; allowed: {', '.join(PLATFORMS)}",
                )
            ]
        )
    if platform == PLATFORM and prov.kube_backend_factory is None:
        raise no_cluster(platform)


def platforms_for(
    session: Session, prov: Provisioner, pilots: Sequence[Pilot], platform: str | None
) -> dict[str, tuple[str, ...]]:
    """Each pilot's platforms: ``platform`` if given, else from its task types.

    Without a configured cluster, the task types' choice is narrowed to
    OpenStack (a pilot that would get only Kubernetes gets OpenStack), so an
    installation without Kubernetes behaves as before.
    """
    check_platform(prov, platform)
    out = {}
    for pilot in pilots:
        app = session.get(Application, pilot.application_id)
        chosen = choose_platforms(
            prov.tenant_policy.platforms, app.document.get("task_types") or (), platform
        )
        if prov.kube_backend_factory is None:
            chosen = ("openstack",)
        out[pilot.id] = chosen
    return out


# ------------------------------------------------------------------ rows and desired state


def ensure_row(session: Session, prov: Provisioner, pilot: Pilot, server: str) -> KubeTenant:
    """The pilot's namespace tenant row; created (or re-planned after a teardown) and audited."""
    row = session.get(KubeTenant, pilot.id)
    if row is not None and row.state != "torn_down":
        return row
    app = session.get(Application, pilot.application_id)
    resources = app.document["resources"]
    size = choose_size(
        prov.tenant_policy, resources["vcpus"], resources["ram_gb"], resources["gpus"]
    )
    if row is None:
        row = KubeTenant(
            pilot_id=pilot.id, server=server, namespace=namespace_name(pilot.id), size=size
        )
    else:
        row.server, row.size, row.state = server, size, "planned"
        row.environment_path = row.last_error = row.token_expires_at = None
        row.updated_at = utcnow()
    session.add(row)
    audit.record(
        session,
        actor=prov.actor,
        action="tenant.planned",
        subject=pilot.id,
        details={"platform": PLATFORM, "size": size, "namespace": row.namespace, "server": server},
    )
    session.flush()
    return row


def desired_for(session: Session, prov: Provisioner, row: KubeTenant) -> NamespaceTenant:
    """The namespace as it should be: the PI's service account and one per member being added or active."""
    pilot = session.get(Pilot, row.pilot_id)
    app = session.get(Application, pilot.application_id)
    people = _members(session, row.pilot_id)
    tenant = desired_namespace(
        pilot_id=pilot.id,
        pilot_name=app.name,
        size=row.size,
        end=pilot.planned_end,
        policy=prov.tenant_policy,
        members=tuple(m.email for m in people),
        readers=tuple(m.email for m in people if m.role == "reader"),
    )
    if row.suspended_at is not None:
        # Suspended: the quota is zero (no new pod, claim or request is
        # admitted); the token has expired with the tenant; nothing is deleted.
        tenant = replace(tenant, quota={key: "0" for key in tenant.quota})
    return tenant


def desired_suspended(tenant: NamespaceTenant) -> bool:
    return tenant.quota.get("pods") == "0"


def set_state(prov: Provisioner, pilot_id: str, state: str, *, error: str | None = None) -> None:
    """Move the namespace tenant to ``state`` and audit ``tenant.<state>`` (platform kubernetes)."""
    with session_scope(prov.engine) as session:
        row = session.get(KubeTenant, pilot_id)
        if row.state == state and not error:
            return
        before, row.state, row.last_error = row.state, state, error
        row.updated_at = utcnow()
        session.add(row)
        audit.record(
            session,
            actor=prov.actor,
            action=f"tenant.{state}",
            subject=pilot_id,
            details={"platform": PLATFORM, "from": before, "error": error},
        )


def backend_for(prov: Provisioner) -> KubernetesBackend:
    if prov.kube_backend_factory is None:
        raise no_cluster(PLATFORM)
    return prov.kube_backend_factory()


# ------------------------------------------------------------------ capacity


def check_capacity(
    session: Session, prov: Provisioner, pilots: Sequence[Pilot], backend: KubernetesBackend
) -> list[capacity_policy.CapacityVerdict]:
    """Verdicts for what every namespace's quota promises plus the pilots' new namespaces."""
    lines = backend.capacity()
    promised = {line.resource: line.used for line in lines}
    for pilot in pilots:
        row = session.get(KubeTenant, pilot.id)
        if row is not None and row.state not in ("planned", "torn_down"):
            continue  # its quota is among the cluster's already
        resources = session.get(Application, pilot.application_id).document["resources"]
        size = choose_size(
            prov.tenant_policy, resources["vcpus"], resources["ram_gb"], resources["gpus"]
        )
        quota = namespace_quota(prov.tenant_policy.sizes[size])
        for resource, amount in kube_capacity.quota_promise(quota).items():
            promised[resource] = promised.get(resource, 0.0) + amount
    return [
        capacity_policy.CapacityVerdict(f"kubernetes {v.resource}", v.promised, v.available)
        for v in capacity_policy.check(promised, {line.resource: line.total for line in lines})
    ]


# ------------------------------------------------------------------ provisioning


def token_delivered(prov: Provisioner, row: KubeTenant) -> bool:
    """Whether the bundle's kubeconfig holds a token that has not expired.

    A suspended tenant gets no new token (its access has ended): True.
    """
    if row.suspended_at is not None:
        return True
    if kubeconfig.read_token(prov.environments_dir / row.pilot_id) is None:
        return False
    return row.token_expires_at is not None and row.token_expires_at > utcnow()


def member_tokens_missing(
    session: Session, prov: Provisioner, row: KubeTenant, tenant: NamespaceTenant
) -> tuple[str, ...]:
    """The service accounts of members whose own bundle lacks a token that has not expired.

    A suspended tenant issues none (its access has ended).
    """
    if row.suspended_at is not None:
        return ()
    now = utcnow()
    missing = []
    for member in _members(session, row.pilot_id):
        account = member_service_account(member.email)
        if account not in tenant.service_accounts[1:]:
            continue
        folder = member_bundle.member_folder(prov.environments_dir, row.pilot_id, member.email)
        expires = member.kube_token_expires_at
        if kubeconfig.read_token(folder) is None or expires is None or expires <= now:
            missing.append(account)
    return tuple(missing)


def _members(session: Session, pilot_id: str) -> list[Member]:
    return list(
        session.exec(
            select(Member)
            .where(Member.pilot_id == pilot_id, col(Member.state).in_(MEMBER_STATES))
            .order_by(col(Member.id))
        ).all()
    )


def write_readme_section(folder: Path, section: str) -> None:
    """Put ``section`` into the bundle's README.md (replacing an earlier one), atomically."""
    path = folder / README
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    head = text.split(SECTION, 1)[0].rstrip()
    write_text(path, (head + "\n\n" if head else "") + section)


def remove_readme_section(folder: Path) -> None:
    path = folder / README
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if SECTION in text:
            write_text(path, text.split(SECTION, 1)[0].rstrip() + "\n")


def provision(
    prov: Provisioner, pilot_ids: Sequence[str], progress: Progress | None = None
) -> list[TenantOutcome]:
    """Converge each pilot's namespace tenant (rows made by the caller, gates passed)."""
    backend = backend_for(prov)
    try:
        return [run_namespace(prov, pilot_id, backend, progress) for pilot_id in pilot_ids]
    finally:
        backend.close()


def run_namespace(
    prov: Provisioner,
    pilot_id: str,
    backend: KubernetesBackend,
    progress: Progress | None = None,
) -> TenantOutcome:
    """Observe, plan, apply until the plan is empty; the state ends ``active`` or ``failed``."""
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    outcome = TenantOutcome(pilot_id, [], platform=PLATFORM)
    calls_before = backend.mutating_calls
    with session_scope(prov.engine) as session:
        row = session.get(KubeTenant, pilot_id)
        desired = desired_for(session, prov, row)
        delivered = token_delivered(prov, row)
        member_tokens = member_tokens_missing(session, prov, row, desired)
    report = ApplyReport(pilot_id)
    done: list[str] = []
    try:
        for _ in range(CONVERGE_PASSES):
            the_plan = plan(
                desired,
                backend.observe(desired),
                credential_delivered=delivered,
                member_tokens=member_tokens,
            )
            if the_plan.empty:
                report = ApplyReport(pilot_id)
                break
            outcome.plan.extend(c.as_dict() for c in the_plan.changes)
            set_state(prov, pilot_id, "provisioning")
            report = apply_through_ledger(
                prov, pilot_id, run_id, the_plan, desired, backend, progress
            )
            done.extend(report.done)
            if not report.ok:
                break
            delivered, member_tokens = True, ()
    except CloudError as exc:
        report = ApplyReport(pilot_id, failed="observe", error=str(exc), transient=exc.transient)
    report.done = done
    outcome.report = report
    outcome.mutating_calls = backend.mutating_calls - calls_before
    settled = "suspended" if desired_suspended(desired) else "active"
    outcome.state = settled if report.ok else "failed"
    set_state(prov, pilot_id, outcome.state, error=None if report.ok else report.error)
    outcome.environment = str(prov.environments_dir / pilot_id)
    outcome.seconds = time.perf_counter() - started
    return outcome


def apply_through_ledger(
    prov: Provisioner,
    pilot_id: str,
    run_id: str,
    the_plan: Any,
    desired: NamespaceTenant,
    backend: KubernetesBackend,
    progress: Progress | None,
) -> ApplyReport:
    """Apply with every step in the ledger; the token goes into the kubeconfig the moment it exists."""
    total = len(the_plan.changes)
    counter = {"i": 0}

    def ledger(change: Change, status: str, result: StepResult | None, error: str | None) -> None:
        record_step(prov, pilot_id, run_id, change, status, result, error)
        if status == "done":
            counter["i"] += 1
            if progress:
                progress(pilot_id, change.step, counter["i"], total)

    def on_secret(secret: Secret, result: StepResult) -> None:
        account = str(result.extra.get("service_account", desired.pi_service_account))
        email = desired.member_of(account)
        if email is not None:
            _deliver_member_token(prov, desired, backend, email, account, secret, result)
            return
        folder = prov.environments_dir / pilot_id
        config = kubeconfig.build(
            desired, server=backend.server(), token=secret, ca_data=backend.cluster.ca_data
        )
        path = kubeconfig.write(folder, config)
        expires = result.extra.get("expires_at", desired.expires_at.isoformat())
        write_readme_section(folder, kubeconfig.readme_section(desired, expires))
        with session_scope(prov.engine) as session:
            row = session.get(KubeTenant, pilot_id)
            row.token_expires_at = datetime.fromisoformat(expires)
            row.environment_path = str(folder)
            row.updated_at = utcnow()
            session.add(row)
            audit.record(
                session,
                actor=prov.actor,
                action="tenant.environment_written",
                subject=pilot_id,
                details={"platform": PLATFORM, "path": str(path), "access_expires_at": expires},
            )

    return apply(the_plan, desired, backend, ledger=ledger, on_secret=on_secret)


def _deliver_member_token(
    prov: Provisioner,
    desired: NamespaceTenant,
    backend: KubernetesBackend,
    email: str,
    account: str,
    secret: Secret,
    result: StepResult,
) -> None:
    """The member's own kubeconfig into their own bundle (re-sealed to their age key)."""
    pilot_id = desired.pilot_id
    with session_scope(prov.engine) as session:
        member = session.exec(
            select(Member).where(
                Member.pilot_id == pilot_id,
                Member.email == email,
                col(Member.state).in_(MEMBER_STATES),
            )
        ).first()
        recipient = member.age_recipient if member else None
    expires = str(result.extra.get("expires_at", desired.expires_at.isoformat()))
    config = kubeconfig.build(
        desired,
        server=backend.server(),
        token=secret,
        ca_data=backend.cluster.ca_data,
        account=account,
    )
    path = member_bundle.write_member_kubeconfig(
        prov.environments_dir,
        pilot_id=pilot_id,
        email=email,
        kubeconfig_text=kubeconfig.dump(config),
        readme_section=kubeconfig.readme_section(desired, expires, account),
        recipient=recipient,
    )
    with session_scope(prov.engine) as session:
        member = session.exec(
            select(Member).where(
                Member.pilot_id == pilot_id,
                Member.email == email,
                col(Member.state).in_(MEMBER_STATES),
            )
        ).first()
        if member is not None:
            member.kube_token_expires_at = datetime.fromisoformat(expires)
            session.add(member)
        audit.record(
            session,
            actor=prov.actor,
            action="member.kubeconfig_written",
            subject=pilot_id,
            details={
                "platform": PLATFORM,
                "email": email,
                "service_account": account,
                "path": str(path),
                "encrypted": bool(recipient),
                "access_expires_at": expires,
            },
        )


def live_namespace(session: Session, pilot_id: str, states: tuple[str, ...]) -> bool:
    """Whether the pilot has a namespace tenant in one of ``states``."""
    row = session.get(KubeTenant, pilot_id)
    return row is not None and row.state in states


def access_of(session: Session, prov: Provisioner, pilot_id: str) -> tuple[str, datetime]:
    """The pilot's namespace and when its access ends (for members' notices)."""
    tenant = desired_for(session, prov, session.get(KubeTenant, pilot_id))
    return tenant.namespace, tenant.expires_at


def converge_members(prov: Provisioner, pilot_id: str) -> ApplyReport | None:
    """After a member change: converge the pilot's live namespace; None when it has none.

    The run that follows ``desired_for`` (members ``adding``/``active``)
    creates a new member's service account, binding subject and own token, and
    deletes a removed member's service account (its tokens stop working) and
    binding subject.  A namespace still being provisioned is left to that run.
    """
    with session_scope(prov.engine) as session:
        row = session.get(KubeTenant, pilot_id)
        if row is None or row.state not in ("active", "suspended"):
            return None
    backend = backend_for(prov)
    try:
        return run_namespace(prov, pilot_id, backend).report
    finally:
        backend.close()


# ------------------------------------------------------------------ rows


def rows(session: Session) -> list[dict[str, Any]]:
    """The namespace tenants as rows of the tenants listing (the OpenStack rows' keys)."""
    out = []
    for row in session.exec(select(KubeTenant).order_by(col(KubeTenant.pilot_id))).all():
        pilot = session.get(Pilot, row.pilot_id)
        out.append(
            {
                "pilot": row.pilot_id,
                "platform": PLATFORM,
                "state": row.state,
                "size": row.size,
                "cloud": row.server,
                "project": row.namespace,
                "project_id": row.namespace,
                "cidr": "",
                "credential_id": None,
                "environment": row.environment_path,
                "planned_start": pilot.planned_start.isoformat(),
                "planned_end": pilot.planned_end.isoformat(),
                "last_error": row.last_error,
                "updated_at": row.updated_at.isoformat(),
            }
        )
    return out
