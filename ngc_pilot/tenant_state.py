"""Setting a tenant's state: the one way a tenant row changes state, audited.

Why this exists: provisioning, repair, suspension and teardown all move a
tenant between ``provisioning``, ``active``, ``suspended`` and ``failed``; each
move is written with its audit event in its own transaction, so the row says
what the cloud was last seen to be even if the process dies right after.
It deliberately does not decide *which* state a tenant should be in, and
touches no cloud.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from ngc_pilot import audit
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.models import Tenant
from ngc_pilot.provisioner_config import Provisioner


def set_state(
    prov: Provisioner,
    pilot_id: str,
    state: str,
    *,
    error: str | None = None,
    project_id: str | None = None,
    also: Callable[[Session], None] | None = None,
    confirmed_by: str | None = None,
) -> None:
    """Move the tenant to ``state`` (with its error or project id) and audit
    ``tenant.<state>``; a move to the state it is already in (with the project
    id it already has) changes nothing.

    ``also`` runs in the same transaction (the "tenant ready" notice is queued
    with the move to ``active``, so a crash loses neither); it runs even when
    the state does not change, and must be idempotent.
    ``confirmed_by`` (``observation`` | ``answers``): how the run knew the
    tenant had converged (a look after applying, or a new tenant's create
    answers, ``provisioner.plan.settled_by_answers``), kept in the audit row.
    """
    with session_scope(prov.engine) as session:
        if also is not None:
            also(session)
        tenant = session.get(Tenant, pilot_id)
        if tenant.state == state and not error and project_id in (None, "", tenant.project_id):
            return  # a re-apply that found the tenant as it was: nothing to record
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
            details={
                "from": before,
                "error": error,
                "project_id": project_id,
                **({"confirmed_by": confirmed_by} if confirmed_by else {}),
            },
        )
