"""The plan of a pilot's namespace tenant: what applying would change, changing nothing.

Why this exists: ``ngc-pilot provision --plan`` and the TUI's plan show each
pilot's changes on every platform it gets; :func:`ngc_pilot.provisioning.plan_pilots`
plans the OpenStack tenants and hands the namespace tenants here.  A pilot
without a ``kube_tenant`` row yet (or whose namespace was torn down) is
planned from a row that is never added to the session, so planning writes
nothing: no row, no audit event, no call that mutates the cluster.

What this module deliberately does not do: gate pilots or check capacity (a
plan shows the diff only), or plan OpenStack.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from ngc_pilot import namespace_tenants
from ngc_pilot.db import session_scope
from ngc_pilot.kube_tenant_models import PLATFORM, KubeTenant
from ngc_pilot.models import Application, Pilot
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_runs import TenantOutcome
from policies.tenancy import choose_size
from provisioner.kubernetes.names import namespace_name
from provisioner.kubernetes.plan import plan


def plan_namespaces(prov: Provisioner, pilot_ids: Sequence[str]) -> list[TenantOutcome]:
    """Each pilot's namespace plan (state ``planned`` for a namespace not made yet)."""
    if not pilot_ids:
        return []
    backend = namespace_tenants.backend_for(prov)
    out = []
    try:
        with session_scope(prov.engine) as session:
            for pilot_id in pilot_ids:
                row = session.get(KubeTenant, pilot_id)
                if row is None or row.state == "torn_down":
                    row = _unsaved_row(session, prov, pilot_id, backend.server())
                    delivered = False
                else:
                    delivered = namespace_tenants.token_delivered(prov, row)
                desired = namespace_tenants.desired_for(session, prov, row)
                the_plan = plan(desired, backend.observe(desired), credential_delivered=delivered)
                out.append(
                    TenantOutcome(
                        pilot_id,
                        [c.as_dict() for c in the_plan.changes],
                        state=row.state,
                        platform=PLATFORM,
                    )
                )
            session.rollback()  # planning writes nothing
    finally:
        backend.close()
    return out


def _unsaved_row(session: Session, prov: Provisioner, pilot_id: str, server: str) -> KubeTenant:
    """The row :func:`namespace_tenants.ensure_row` would make, never added to the session."""
    pilot = session.get(Pilot, pilot_id)
    resources = session.get(Application, pilot.application_id).document["resources"]
    size = choose_size(
        prov.tenant_policy, resources["vcpus"], resources["ram_gb"], resources["gpus"]
    )
    return KubeTenant(
        pilot_id=pilot_id, server=server, namespace=namespace_name(pilot_id), size=size
    )
