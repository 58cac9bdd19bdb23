"""Verify namespace tenants: each one's own token against every other namespace and the cluster.

Why this exists: ``tenants verify`` proves isolation on both platforms; for
namespaces, each active tenant's token (read from its bundle's kubeconfig, never
stored) must be refused everywhere but its own namespace, and every removed
member's kept kubeconfig must get 401.  Split from
:mod:`ngc_pilot.namespace_tenants`, which provisions them.

What this module does not do: change anything on the cluster or in the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, select

from ngc_pilot.db import session_scope
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.namespace_tenants import backend_for
from ngc_pilot.provisioner_config import Provisioner
from provisioner import member_bundle
from provisioner.backend import Probe
from provisioner.kubernetes import kubeconfig

if TYPE_CHECKING:
    from provisioner.kubernetes.backend import KubernetesBackend


def verify(prov: Provisioner) -> list[Probe]:
    """Each active namespace tenant, with its own token, probes every other one and the cluster."""
    with session_scope(prov.engine) as session:
        active = session.exec(
            select(KubeTenant)
            .where(KubeTenant.state == "active")
            .order_by(col(KubeTenant.pilot_id))
        ).all()
        targets = {row.pilot_id: {"namespace": row.namespace} for row in active}
    if not targets:
        return []
    backend = backend_for(prov)
    probes: list[Probe] = []
    try:
        for pilot_id in targets:
            token = kubeconfig.read_token(prov.environments_dir / pilot_id)
            if token is None:
                probes.append(
                    Probe(pilot_id, "(self)", "kubeconfig", True, "missing: cannot verify")
                )
                continue
            probes.extend(backend.probe_isolation(pilot_id, token, targets))
        probes.extend(_verify_removed(prov, backend, list(targets)))
    finally:
        backend.close()
    return probes


def _verify_removed(
    prov: Provisioner, backend: KubernetesBackend, pilot_ids: list[str]
) -> list[Probe]:
    """Each removed member's kept kubeconfig: the API must refuse its token (401)."""
    probes = []
    for pilot_id in pilot_ids:
        kept = member_bundle.removed_kubeconfigs(prov.environments_dir, pilot_id)
        for email, path in kept.items():
            token = kubeconfig.read_token(path.parent)
            if token is not None:
                probes.append(backend.probe_revoked(pilot_id, f"removed member {email}", token))
    return probes
