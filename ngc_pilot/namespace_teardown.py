"""Tear a namespace tenant down: delete the namespace, prove nothing is left, forget its kubeconfig.

Why this exists: teardown (by the operator, or by the lifecycle after the
grace period) removes a pilot's namespace through the same step ledger and
audit log as provisioning (:mod:`ngc_pilot.namespace_tenants`); everything
inside the namespace goes with it.  A teardown that leaves anything marks the
tenant failed and keeps its files.

What this module does not do: gate the teardown (final invoice, grace period:
the caller decides) or touch OpenStack.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.kube_tenant_models import PLATFORM, KubeTenant
from ngc_pilot.namespace_tenants import (
    backend_for,
    desired_for,
    remove_readme_section,
    set_state,
)
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.tenant_runs import record_step
from provisioner.apply import ApplyReport, apply
from provisioner.backend import CloudError
from provisioner.kubernetes import kubeconfig
from provisioner.kubernetes.plan import plan_teardown


@dataclass
class NamespaceTeardown:
    pilot_id: str
    report: ApplyReport
    leftovers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot_id,
            "platform": PLATFORM,
            "removed": self.report.done,
            "failed_step": self.report.failed,
            "error": self.report.error,
            "leftovers": self.leftovers,
            "clean": self.report.ok and not self.leftovers,
        }


def has_tenant(session: Session, pilot_id: str) -> bool:
    row = session.get(KubeTenant, pilot_id)
    return row is not None


def teardown(prov: Provisioner, pilot_id: str, *, reason: str | None = None) -> NamespaceTeardown:
    """Delete the namespace (everything in it goes with it), prove nothing is left."""
    run_id = uuid.uuid4().hex[:12]
    backend = backend_for(prov)
    try:
        with session_scope(prov.engine) as session:
            row = session.get(KubeTenant, pilot_id)
            desired = desired_for(session, prov, row)
        report = apply(
            plan_teardown(desired, backend.observe(desired)),
            desired,
            backend,
            ledger=lambda change, status, result, error: record_step(
                prov, pilot_id, run_id, change, status, result, error
            ),
        )
        leftovers = backend.leftovers(desired) if report.ok else []
    except CloudError as exc:
        report, leftovers = ApplyReport(pilot_id, failed="observe", error=str(exc)), []
    finally:
        backend.close()
    outcome = NamespaceTeardown(pilot_id, report, leftovers)
    if not outcome.as_dict()["clean"]:
        set_state(prov, pilot_id, "failed", error=report.error or f"leftovers: {leftovers}")
        return outcome
    folder = prov.environments_dir / pilot_id
    (folder / kubeconfig.FILE_NAME).unlink(missing_ok=True)
    remove_readme_section(folder)
    with session_scope(prov.engine) as session:
        row = session.get(KubeTenant, pilot_id)
        already = row.state == "torn_down"
        row.state = "torn_down"
        row.environment_path = row.token_expires_at = None
        row.updated_at = utcnow()
        session.add(row)
        audit.record(
            session,
            actor=prov.actor,
            action="tenant.torn_down",
            subject=pilot_id,
            reason=reason,
            details={"platform": PLATFORM, "removed": len(report.done), "already": already},
        )
    return outcome
