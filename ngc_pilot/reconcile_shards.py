"""Reconcile split between replicas: one cycle's tenants cut into shards.

An item is a shard of up to ``service.tenants_per_item`` OpenStack tenants
(consecutive by pilot id), observed in bulk (one listing per resource kind
for the shard) and planned by :func:`ngc_pilot.lifecycle.reconcile` limited
to it; the namespace tenants are one item of their own.  A killed replica's
shard is reconciled again by another after its lease: reconcile only
observes, plans, audits drift when it changed and repairs through the
ledger, so a second pass finds nothing new to do.  While a shard runs, the
claim's ``still_held`` is asked between tenants: once the claim is lost (the
lease was taken over), reconcile stops touching the cloud and the item is
left to its new holder (:class:`ngc_pilot.claims.ClaimLost`).  Not here: the claim
mechanics (:mod:`ngc_pilot.claims`) and what reconcile does per tenant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot import claims
from ngc_pilot.db import session_scope
from ngc_pilot.lifecycle import reconcile
from ngc_pilot.lifecycle.drift import RECONCILED_STATES
from ngc_pilot.models import Tenant
from ngc_pilot.provisioner_config import Provisioner

JOB = "reconcile"


def plan(prov: Provisioner, tenants_per_item: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The cycle's plan and its items' payloads."""
    with session_scope(prov.engine) as session:
        pilots = list(
            session.exec(
                select(Tenant.pilot_id)
                .where(col(Tenant.state).in_(RECONCILED_STATES))
                .order_by(col(Tenant.pilot_id))
            ).all()
        )
    payloads: list[dict[str, Any]] = [
        {"pilots": pilots[i : i + tenants_per_item]}
        for i in range(0, len(pilots), tenants_per_item)
    ]
    if prov.kube_backend_factory is not None:
        payloads.append({"pilots": [], "namespaces": True})
    return {"tenants": len(pilots)}, payloads


def handle(
    prov: Provisioner, claim: claims.Claim, still_held: Callable[[], bool] | None = None
) -> None:
    """Reconcile one shard, then mark it done (its report is the item's result).

    Raises :class:`ngc_pilot.claims.ClaimLost` if ``still_held`` turned False
    between tenants (the rest of the shard is the new holder's).
    """
    pilots = claim.payload["pilots"]
    report = reconcile(
        prov,
        pilots=set(pilots),
        namespaces_too=bool(claim.payload.get("namespaces")),
        still_held=still_held,
    )
    if report.stopped:
        raise claims.ClaimLost(
            f"work item {claim.cycle_id}/{claim.item}: claim lost after "
            f"{len(report.tenants)} tenant(s); the rest is the new holder's"
        )
    done = report.as_dict()
    result = {key: done[key] for key in ("repair", "checked", "drifted", "repaired", "failed")}
    result["failed_tenants"] = [{"pilot": t.pilot_id, "error": t.error} for t in report.failed]
    with session_scope(prov.engine) as session:
        claims.complete(session, claim, result)


def report_of(session: Session, cycle_id: int) -> dict[str, Any]:
    """The cycle's counts over its items, and who did which."""
    out: dict[str, Any] = {"checked": 0, "drifted": 0, "repaired": 0, "failed": 0}
    failed: list[dict[str, Any]] = []
    by_replica: Counter[str] = Counter()
    for done_by, result in claims.results(session, cycle_id):
        if result.get("abandoned"):
            continue
        by_replica[done_by or "?"] += 1
        for key in out:
            out[key] += result.get(key, 0)
        failed.extend(result.get("failed_tenants", []))
    out.update(
        items=claims.cycle(session, cycle_id).items_total,
        items_by_replica=dict(by_replica),
        failed_tenants=failed,
    )
    return out
