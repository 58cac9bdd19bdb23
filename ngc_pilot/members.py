"""The members service: researchers besides the PI, each with their own access.

``add_member`` validates everything first (one problem per bad field, nothing
written), records the member as ``adding``, plans and applies their access
through the step ledger (:func:`provisioner.members.plan_member`), writes
their bundle the moment the credential's secret exists (encrypted to their
age key when they gave one); where the pilot has a live Kubernetes namespace
it then converges it (:func:`ngc_pilot.namespace_tenants.converge_members`):
their own ServiceAccount, RoleBinding subject and TokenRequest token, written
as their own ``kubeconfig`` into the same bundle; and then — in one transaction — marks them
``active``, audits it and queues their notice (:func:`ngc_pilot.mail.queue`,
the ``member_added`` template in their language).  A
crash between the credential and the notice leaves the row ``adding`` and the
credential in the bundle; the next ``add_member`` for them resumes from the
ledger's state without a second credential and queues the notice once.
``remove_member`` revokes everything at once (credential and user deleted;
their ServiceAccount deleted, which ends its tokens, and dropped from the
RoleBinding), keeps only the revoked credential and kubeconfig for
:func:`ngc_pilot.member_reads.verify_removed` and ``namespace_verify.verify``, and queues the
removal notice in the transaction that marks them removed.

A pilot with only a namespace tenant (no OpenStack project) takes members
too: their access is then the namespace part alone.
``add_roster`` adds the members a nomination file lists once the tenant is
provisioned.  Listing members and checking removed ones are in
:mod:`ngc_pilot.member_reads`.  Over 400 lines because adding, removing, the roster and the
revocation check share the ledger and notice helpers, which are private here;
input checks and the notices' wording are already modules of their own.

What this module deliberately does not do: decide what the cloud needs
(``provisioner.members``), word notices (the mail templates and
``member_notices``) or send mail.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot import audit, bastion_keys, mail, member_input, namespace_tenants
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.member_models import Member
from ngc_pilot.member_notices import NoticeFacts, context
from ngc_pilot.models import Application, OutboxMessage, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_rows import desired_for
from ngc_pilot.tenant_runs import Progress, record_step
from policies.problems import Problem
from provisioner import member_bundle
from provisioner.apply import ApplyReport, apply
from provisioner.backend import CloudError, StepResult
from provisioner.members import (
    DesiredMember,
    MemberCloud,
    desired_member,
    plan_member,
    plan_member_removal,
)
from provisioner.model import Change, DesiredTenant, Plan
from provisioner.secrets import Secret

LIVE = ("adding", "active", "removing")


@dataclass
class MemberOutcome:
    pilot_id: str
    email: str
    state: str
    report: ApplyReport
    seconds: float = 0.0
    bundle: str | None = None
    encrypted: bool = False
    kubeconfig: bool = False  # their own kubeconfig is in their bundle
    notice: str | None = None  # the outbox key queued (None: already queued before)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "email": self.email,
            "state": self.state,
            "changes": self.changes,
            "applied": self.report.done,
            "failed_step": self.report.failed,
            "error": self.report.error,
            "bundle": self.bundle,
            "encrypted": self.encrypted,
            "kubeconfig": self.kubeconfig,
            "notice": self.notice,
            "seconds": round(self.seconds, 3),
        }


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise InputError(problems)


def _tenant_of(session: Session, pilot_id: str, *, live: bool) -> tuple[Pilot, Tenant | None]:
    """The pilot and its OpenStack tenant; None for a pilot with only a namespace tenant
    (active, or also suspended when not ``live``)."""
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFoundError(
            [Problem("command line", "pilot", pilot_id, "no committed pilot with this id")]
        )
    tenant = session.get(Tenant, pilot_id)
    namespace_states = ("active",) if live else ("active", "suspended")
    if tenant is None and namespace_tenants.live_namespace(session, pilot_id, namespace_states):
        return pilot, None
    if tenant is None or (live and tenant.state != "active"):
        state = tenant.state if tenant else "no tenant"
        raise InputError(
            [
                Problem(
                    "command line",
                    "pilot",
                    pilot_id,
                    f"its tenant is {state}; members are added to an active tenant only",
                )
            ]
        )
    return pilot, tenant


@dataclass(frozen=True)
class _Namespace:
    """Where a member of a pilot with only a namespace has access (for their notice)."""

    project: str
    expires_at: datetime


def _namespace(prov: Provisioner, pilot_id: str) -> _Namespace:
    with session_scope(prov.engine) as session:
        return _Namespace(*namespace_tenants.access_of(session, prov, pilot_id))


def _current(session: Session, pilot_id: str, email: str) -> Member | None:
    return session.exec(
        select(Member)
        .where(Member.pilot_id == pilot_id, Member.email == email, col(Member.state).in_(LIVE))
        .order_by(col(Member.id).desc())
    ).first()


def member_cloud(prov: Provisioner) -> MemberCloud:
    backend = prov.backend_factory()
    if not isinstance(backend, MemberCloud):
        raise CloudError(f"the cloud backend {type(backend).__name__} cannot manage members")
    return backend


def _desired(session: Session, prov: Provisioner, pilot: Pilot, tenant: Tenant) -> DesiredTenant:
    return desired_for(tenant, pilot, session.get(Application, pilot.application_id), prov)


# ------------------------------------------------------------------------ adding


def add_member(
    prov: Provisioner,
    pilot_id: str,
    email: str,
    *,
    name: str | None = None,
    role: str = "member",
    language: str = "da",
    age_recipient: str | None = None,
    ssh_key: str | None = None,
    reason: str | None = None,
    progress: Progress | None = None,
) -> MemberOutcome:
    """Give ``email`` their own access to ``pilot_id``'s tenant and queue their notice."""
    started = time.perf_counter()
    checked = [
        member_input.check_email(email),
        member_input.check_choice("role", role, member_input.ROLES, "command line"),
        member_input.check_choice("language", language, member_input.LANGUAGES, "command line"),
        member_input.check_age_recipient(age_recipient),
        member_input.check_ssh_key(ssh_key),
        member_input.check_name(name),
    ]
    problems = [c for c in checked if isinstance(c, Problem)]
    _raise(problems)  # every problem at once, before anything is written
    mail, role, language, recipient, ssh, name = checked  # type: ignore[misc]
    with session_scope(prov.engine) as session:
        pilot, tenant = _tenant_of(session, pilot_id, live=True)
        member = _current(session, pilot_id, str(mail))
        if member is not None and member.state != "adding":
            _raise(
                [
                    Problem(
                        "command line",
                        "email",
                        email,
                        f"already a member of {pilot_id} ({member.state}); remove them first",
                    )
                ]
            )
        if member is None:
            member = Member(
                pilot_id=pilot_id,
                email=str(mail),
                name=name,
                role=str(role),
                language=str(language),
                age_recipient=recipient,  # type: ignore[arg-type]
                ssh_public_key=ssh,  # type: ignore[arg-type]
            )
            session.add(member)
            audit.record(
                session,
                actor=prov.actor,
                action="member.adding",
                subject=pilot_id,
                reason=reason,
                details={"email": str(mail), "role": str(role), "encrypted": bool(recipient)},
            )
        session.flush()
        member_id = member.id
        recipient = member.age_recipient
        if tenant is None:  # only a namespace: nothing in OpenStack
            desired = None
        else:
            desired = _desired(session, prov, pilot, tenant)
            dm = desired_member(desired, member.email, member.role, member.ssh_public_key)
    if desired is None:
        return _add_to_namespace_only(prov, pilot_id, member_id, str(mail), recipient, started)
    backend = member_cloud(prov)
    have = backend.observe_member(desired, dm)
    folder = member_bundle.member_folder(prov.environments_dir, pilot_id, dm.email)
    bundle = member_bundle.read_member_credential(folder)
    delivered = bundle is not None and bundle["id"] == have.app_credential_id
    the_plan = plan_member(desired, dm, have, credential_delivered=delivered)

    def on_secret(secret: Secret, result: StepResult) -> None:
        member_bundle.write_member_bundle(
            prov.environments_dir,
            pilot_id=pilot_id,
            email=dm.email,
            cloud_name=desired.project,
            auth_url=backend.auth_url(),
            region=backend.region(),
            credential_id=result.resource_id or "",
            secret=secret,
            role=dm.role,
            project=desired.project,
            expires_at=dm.expires_at,
            support_contact=prov.tenant_policy.tenancy.support_contact,
            recipient=recipient,
        )
        with session_scope(prov.engine) as session:
            row = session.get(Member, member_id)
            row.credential_id = result.resource_id
            session.add(row)
            audit.record(
                session,
                actor=prov.actor,
                action="member.environment_written",
                subject=pilot_id,
                details={"email": dm.email, "credential_id": result.resource_id},
            )

    report = _apply(prov, the_plan, desired, backend, progress, on_secret)
    if report.ok:
        report = _with_namespace(prov, pilot_id, report)
    outcome = MemberOutcome(
        pilot_id,
        dm.email,
        "adding",
        report,
        changes=[c.as_dict() for c in the_plan.changes],
        bundle=str(folder),
        encrypted=bool(recipient),
    )
    outcome.kubeconfig = (folder / member_bundle.KUBECONFIG).is_file()
    if report.ok:
        outcome.state = "active"
        outcome.notice = _activate(prov, member_id, desired)
        bastion_keys.regenerate(prov.engine, prov.bastion_keys())
    outcome.seconds = time.perf_counter() - started
    return outcome


def _add_to_namespace_only(
    prov: Provisioner,
    pilot_id: str,
    member_id: int | None,
    email: str,
    recipient: str | None,
    started: float,
) -> MemberOutcome:
    """A member of a pilot with only a namespace: their service account and kubeconfig."""
    report = _with_namespace(prov, pilot_id, ApplyReport(pilot_id))
    folder = member_bundle.member_folder(prov.environments_dir, pilot_id, email)
    outcome = MemberOutcome(
        pilot_id, email, "adding", report, bundle=str(folder), encrypted=bool(recipient)
    )
    outcome.kubeconfig = (folder / member_bundle.KUBECONFIG).is_file()
    if report.ok:
        outcome.state = "active"
        outcome.notice = _activate(prov, member_id, _namespace(prov, pilot_id))
    outcome.seconds = time.perf_counter() - started
    return outcome


def _with_namespace(prov: Provisioner, pilot_id: str, report: ApplyReport) -> ApplyReport:
    """``report`` extended by the pilot's namespace converging (if it has a live one).

    A failure there fails the whole change: the member stays ``adding`` (or
    ``removing``) and running the command again resumes it.
    """
    try:
        kube = namespace_tenants.converge_members(prov, pilot_id)
    except CloudError as exc:
        kube = ApplyReport(pilot_id, failed="kubernetes", error=str(exc), transient=exc.transient)
    if kube is None:
        return report
    kube.done = [*report.done, *kube.done]
    return kube


def _apply(
    prov: Provisioner,
    the_plan: Plan,
    desired: DesiredTenant,
    backend: MemberCloud,
    progress: Progress | None,
    on_secret: Any = None,
) -> ApplyReport:
    run_id = uuid.uuid4().hex[:12]
    total = len(the_plan.changes)
    count = {"i": 0}

    def ledger(change: Change, status: str, result: StepResult | None, error: str | None) -> None:
        record_step(prov, desired.pilot_id, run_id, change, status, result, error)
        if status == "done":
            count["i"] += 1
            if progress:
                progress(desired.pilot_id, change.step, count["i"], total)

    return apply(the_plan, desired, backend, ledger=ledger, on_secret=on_secret)  # type: ignore[arg-type]


def _facts(
    session: Session, member: Member, desired: DesiredTenant | _Namespace, prov: Provisioner
) -> NoticeFacts:
    pilot = session.get(Pilot, member.pilot_id)
    app = session.get(Application, pilot.application_id)
    return NoticeFacts(
        pilot=member.pilot_id,
        pilot_name=app.name,
        project=desired.project,
        name=member.name or member.email,
        role=member.role,
        encrypted=bool(member.age_recipient),
        expires_at=desired.expires_at.isoformat(),
        support=prov.tenant_policy.tenancy.support_contact,
    )


def _queue(session: Session, member: Member, kind: str, facts: NoticeFacts) -> str:
    """Queue the ``kind`` template in the member's language; the key as before."""
    base = f"{kind.replace('_', '-')}:{member.pilot_id}:{member.email}"
    taken = session.exec(select(OutboxMessage.id).where(OutboxMessage.key == base)).first()
    key = (base if taken is None else f"{base}:{member.id}")[:200]
    mail.queue(
        session,
        key=key,
        kind=kind,
        recipient=member.email,
        language=member.language,
        context=context(kind, member.language, facts),
        pilot_id=member.pilot_id,
    )
    return key


def _activate(prov: Provisioner, member_id: int | None, desired: DesiredTenant | _Namespace) -> str:
    """Mark the member active, audit it and queue their notice: one transaction."""
    with session_scope(prov.engine) as session:
        member = session.get(Member, member_id)
        member.state = "active"
        session.add(member)
        key = _queue(session, member, "member_added", _facts(session, member, desired, prov))
        audit.record(
            session,
            actor=prov.actor,
            action="member.added",
            subject=member.pilot_id,
            details={
                "email": member.email,
                "role": member.role,
                "credential_id": member.credential_id,
                "notice": key,
            },
        )
    return key


def add_roster(prov: Provisioner, pilot_id: str) -> list[MemberOutcome]:
    """Add the members the pilot's nomination lists who are not members yet.

    Run after the tenant is provisioned.  A member the cloud refuses stays
    ``adding`` (audited) and is resumed by the next provisioning run or
    ``members add``; a member removed by hand is not added back.
    """
    with session_scope(prov.engine) as session:
        pilot = session.get(Pilot, pilot_id)
        app = session.get(Application, pilot.application_id)
        roster = list((app.document or {}).get("members") or [])
        known = {
            m.email: m.state
            for m in session.exec(select(Member).where(Member.pilot_id == pilot_id)).all()
        }
    outcomes = []
    for entry in roster:
        email = str(entry["email"]).lower()
        if known.get(email, "adding") != "adding":
            continue  # active, or removed on purpose
        try:
            outcomes.append(
                add_member(
                    prov,
                    pilot_id,
                    email,
                    name=entry.get("name"),
                    role=entry.get("role", "member"),
                    language=entry.get("language", "da"),
                    age_recipient=entry.get("age_recipient"),
                    ssh_key=entry.get("ssh_key"),
                    reason="listed in the nomination",
                )
            )
        except (CloudError, InputError) as exc:
            with session_scope(prov.engine) as session:
                audit.record(
                    session,
                    actor=prov.actor,
                    action="member.add_failed",
                    subject=pilot_id,
                    details={"email": email, "error": str(exc)[:500]},
                )
    return outcomes


# ------------------------------------------------------------------------ removing


def remove_member(
    prov: Provisioner, pilot_id: str, email: str, *, reason: str | None = None
) -> MemberOutcome:
    """Revoke all of ``email``'s access to ``pilot_id``'s tenant at once; queue their notice."""
    started = time.perf_counter()
    mail = member_input.check_email(email)
    _raise([mail] if isinstance(mail, Problem) else [])
    with session_scope(prov.engine) as session:
        pilot, tenant = _tenant_of(session, pilot_id, live=False)
        member = _current(session, pilot_id, str(mail))
        if member is None:
            raise NotFoundError(
                [Problem("command line", "email", email, f"not a member of {pilot_id}")]
            )
        member.state = "removing"
        session.add(member)
        audit.record(
            session,
            actor=prov.actor,
            action="member.removing",
            subject=pilot_id,
            reason=reason,
            details={"email": member.email},
        )
        member_id = member.id
        where: DesiredTenant | _Namespace | None = None
        if tenant is not None:
            where = desired = _desired(session, prov, pilot, tenant)
            dm = desired_member(desired, member.email, member.role, member.ssh_public_key)
    if where is None:  # only a namespace
        where = _namespace(prov, pilot_id)
        report = _with_namespace(prov, pilot_id, ApplyReport(pilot_id))
    else:
        report = revoke(prov, desired, dm, member_cloud(prov))
        if report.ok:
            report = _with_namespace(prov, pilot_id, report)
    outcome = MemberOutcome(pilot_id, str(mail), "removing", report)
    if report.ok:
        member_bundle.retire_member_bundle(prov.environments_dir, pilot_id, str(mail))
        with session_scope(prov.engine) as session:
            member = session.get(Member, member_id)
            member.state, member.removed_at = "removed", utcnow()
            session.add(member)
            key = _queue(session, member, "member_removed", _facts(session, member, where, prov))
            audit.record(
                session,
                actor=prov.actor,
                action="member.removed",
                subject=pilot_id,
                reason=reason,
                details={"email": member.email, "revoked": report.done, "notice": key},
            )
        outcome.state, outcome.notice = "removed", key
        bastion_keys.regenerate(prov.engine, prov.bastion_keys())
    outcome.seconds = time.perf_counter() - started
    return outcome


def revoke(
    prov: Provisioner, desired: DesiredTenant, dm: DesiredMember, backend: MemberCloud
) -> ApplyReport:
    """Delete the member's keypair, credential and user (through the ledger)."""
    have = backend.observe_member(desired, dm)
    return _apply(prov, plan_member_removal(desired, dm, have), desired, backend, None)


def revoke_all(prov: Provisioner, pilot_id: str, desired: DesiredTenant) -> ApplyReport | None:
    """Before a teardown: every live member's access revoked; the first failure, or None."""
    with session_scope(prov.engine) as session:
        members = session.exec(
            select(Member).where(Member.pilot_id == pilot_id, col(Member.state).in_(LIVE))
        ).all()
        wanted = [desired_member(desired, m.email, m.role, m.ssh_public_key) for m in members]
        ids = [m.id for m in members]
    if not wanted:
        return None
    backend = member_cloud(prov)
    for member_id, dm in zip(ids, wanted, strict=True):
        report = revoke(prov, desired, dm, backend)
        if not report.ok:
            return report
        member_bundle.retire_member_bundle(prov.environments_dir, pilot_id, dm.email)
        with session_scope(prov.engine) as session:
            member = session.get(Member, member_id)
            member.state, member.removed_at = "removed", utcnow()
            session.add(member)
            audit.record(
                session,
                actor=prov.actor,
                action="member.removed",
                subject=pilot_id,
                reason="tenant torn down",
                details={"email": member.email, "revoked": report.done},
            )
    bastion_keys.regenerate(prov.engine, prov.bastion_keys())
    kube = _with_namespace(prov, pilot_id, ApplyReport(pilot_id))
    return None if kube.ok else kube
