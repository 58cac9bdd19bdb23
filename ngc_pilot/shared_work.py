"""The per-tenant jobs (``meter``, ``reconcile``) as work that ``serve`` replicas share.

Two ways in, one mechanism (:mod:`ngc_pilot.claims`):

* the **job** (:func:`meter_job`, :func:`reconcile_job`), run by the leader
  at a fire time, or by hand: plans the cycle once for that fire time (a
  retry or a take-over finds the unfinished cycle and carries on; a finished
  one is planned afresh as ``<fire time>/2``), ends older unfinished cycles of
  the job (the new plan covers what they left), then works items itself
  until the cycle is finished — including items another replica claimed and
  died with, once their lease has run out — and returns the cycle's report;
* :func:`work_one`, which every ``serve`` process (leader or standby) calls
  in a loop: claim one open item of any cycle and do it.

So with two replicas, the leader plans and both work; with one (SQLite), the
job does all of it alone.  A failed item is given back for a retry after
``retry_after`` seconds; in the job, the failure also fails the attempt (the
scheduler's retries apply).  While an item runs, its lease is renewed
(:class:`ngc_pilot.claims.Heartbeat`, unless ``Replica.renew_leases`` is off)
and the handler is given the heartbeat's ``held`` to ask between tenants; a
claim found lost is audited (``work.claim_lost``) and its item left to the
replica that took it over.  Not here: scheduling, the leader lock, what an
item of each job does (:mod:`ngc_pilot.meter_shards`,
:mod:`ngc_pilot.reconcile_shards`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ngc_pilot import claims, meter_shards, reconcile_shards
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import TransientError
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.settings import Settings

log = logging.getLogger(__name__)

RETRY_AFTER = 30.0  # seconds before a failed item is tried again (at most the lease)

HANDLERS: dict[str, Callable[[Provisioner, claims.Claim, Callable[[], bool]], None]] = {
    meter_shards.JOB: meter_shards.handle,
    reconcile_shards.JOB: reconcile_shards.handle,
}


def meter_job(prov: Provisioner, settings: Settings, replica: claims.Replica) -> dict[str, Any]:
    """The ``meter`` job: one metering cycle, shared with the other replicas."""

    def plan() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return meter_shards.plan(
            prov, settings.metering, replica.tenants_per_item, replica.now or utcnow()
        )

    cycle_id = _open(prov, meter_shards.JOB, replica, plan, meter_shards.finish)
    _drain(prov, replica, cycle_id)
    with session_scope(prov.engine) as session:
        return meter_shards.report_of(session, cycle_id)


def reconcile_job(prov: Provisioner, replica: claims.Replica) -> dict[str, Any]:
    """The ``reconcile`` job: every tenant's drift, shared with the other replicas."""
    cycle_id = _open(
        prov,
        reconcile_shards.JOB,
        replica,
        lambda: reconcile_shards.plan(prov, replica.tenants_per_item),
        None,
    )
    _drain(prov, replica, cycle_id)
    with session_scope(prov.engine) as session:
        return reconcile_shards.report_of(session, cycle_id)


def _open(
    prov: Provisioner,
    job: str,
    replica: claims.Replica,
    plan: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]],
    on_empty: Callable[[Any, Provisioner, int], Any] | None,
) -> int:
    """The cycle this run works: the fire time's unfinished one, or a new plan."""
    key = replica.cycle_key or claims.now_key()
    with session_scope(prov.engine) as session:
        latest = claims.latest_cycle(session, job, key)
        if latest is not None and latest.finished_at is None:
            assert latest.id is not None
            return latest.id
    summary, payloads = plan()  # reads the cloud's tenants, not the cloud: no claim needed
    with session_scope(prov.engine) as session:
        latest = claims.latest_cycle(session, job, key)
        if latest is not None and latest.finished_at is None:
            assert latest.id is not None
            return latest.id  # planned meanwhile by a run of the same fire time
        if latest is not None:
            key = f"{key}/{_rerun(latest.cycle_key) + 1}"
        cycle = claims.open_cycle(session, job, key, replica.owner, summary, payloads)
        assert cycle.id is not None
        ended = claims.abandon_others(session, job, cycle.id)
        if ended:
            log.warning("%s: %d unfinished older cycle(s) superseded by %s", job, ended, key)
        if not payloads and on_empty is not None:
            on_empty(session, prov, cycle.id)
        return cycle.id


def _rerun(key: str) -> int:
    head, _, tail = key.rpartition("/")
    return int(tail) if head and tail.isdigit() else 1


def _drain(prov: Provisioner, replica: claims.Replica, cycle_id: int) -> None:
    """Work the cycle's items until every one is done (by this or another replica)."""
    while True:
        claim = claims.claim_next(
            prov.engine, replica.owner, replica.lease_seconds, cycle_id=cycle_id
        )
        if claim is not None:
            _handle(prov, replica, claim)
            continue
        if claims.progress(prov.engine, cycle_id).finished:
            return
        if replica.stop.wait(replica.poll_seconds):
            raise TransientError("the service is stopping; the cycle's open items stay claimable")


def work_one(engine: Any, provisioner: Callable[[], Provisioner], replica: claims.Replica) -> bool:
    """Claim one open item of any cycle and do it; False if there was none.

    A failure is logged and the item given back for a retry (by any replica).
    """
    claim = claims.claim_next(engine, replica.owner, replica.lease_seconds)
    if claim is None:
        return False
    try:
        _handle(provisioner(), replica, claim)
    except Exception as exc:  # already given back; the next poll goes on
        log.warning("work item %s/%d failed: %s", claim.job, claim.item, type(exc).__name__)
    return True


def _handle(prov: Provisioner, replica: claims.Replica, claim: claims.Claim) -> None:
    beat = claims.Heartbeat(prov.engine, claim, replica.lease_seconds, renew=replica.renew_leases)
    try:
        with beat:
            HANDLERS[claim.job](prov, claim, beat.held)
    except claims.ClaimLost:
        how = "completion" if beat.held() else "renewal"
        log.warning("%s: claim lost; another replica has it", claim.subject)
        try:
            claims.record_lost(prov.engine, claim, how)
        except Exception as exc:  # the database is unreachable: the log line above stays
            log.warning("%s: cannot audit the lost claim: %s", claim.subject, type(exc).__name__)
    except Exception as exc:
        retry = min(RETRY_AFTER, replica.lease_seconds)
        claims.release(prov.engine, claim, type(exc).__name__, retry)  # no message: no secrets
        raise
