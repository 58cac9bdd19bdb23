"""A committed pilot's tenant row and desired state: which pilots, what size,
which subnet, what the cloud should hold.

Why this exists: planning, provisioning, repair and the lifecycle all start
from the same rows — the pilots asked for (or every selected one), the
``Tenant`` row (created once, size from the request, a subnet allocated from
the pool without overlap) and the desired tenant built from them.  It
deliberately touches no cloud and applies nothing; gates are in
:mod:`ngc_pilot.provisioning_gates`, runs in :mod:`ngc_pilot.tenant_runs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.errors import NotFoundError
from ngc_pilot.models import Application, Pilot, Tenant
from ngc_pilot.provisioner_config import Provisioner
from policies.problems import Problem
from policies.tenancy import allocate_cidr, choose_size
from provisioner.desired import desired_tenant, project_name
from provisioner.model import DesiredTenant


def committed_pilots(session: Session, pilot_ids: Sequence[str]) -> list[Pilot]:
    """The pilots with these ids (all must exist), or every selected pilot if none are given."""
    if pilot_ids:
        found = {
            p.id: p
            for p in session.exec(select(Pilot).where(col(Pilot.id).in_(list(pilot_ids)))).all()
        }
        missing = [pid for pid in pilot_ids if pid not in found]
        if missing:
            raise NotFoundError(
                [Problem("pilot", "id", m, "no committed pilot with this id") for m in missing]
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
    """The pilot's tenant row; created (or re-planned after a teardown) and audited if needed."""
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
