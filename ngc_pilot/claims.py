"""Claims on per-tenant work in the database, so that ``serve`` replicas split it.

A shared job (``meter``, ``reconcile``) is planned once per fire time into a
*cycle* of *items* (``ngc_pilot.claim_models``); every replica then takes
items one at a time with :func:`claim_next` — ``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so two replicas never take the same item and never
wait for each other — and gives each one back done with :func:`complete`.

Exactly once: a claim carries a lease (``lease_until``) and a token that
every claim increments.  A replica killed mid-item leaves its claim behind;
when the lease has run out, another replica claims the item again (token + 1).
:func:`complete` marks the item done only if the token is still the one it
was claimed with, *in the caller's transaction* — the metering records and
the "done" mark commit together or not at all — so a replica that was merely
slow past its lease finds its claim lost (:class:`ClaimLost`) and its writes
roll back.  The last item's completion also counts the cycle finished, under
the cycle row's lock, so exactly one replica finishes a cycle.

Leases are renewed while an item runs: :class:`Heartbeat` (a daemon thread,
one per item being worked) calls :func:`renew` every third of the lease, so
the lease can be short (``service.claim_lease_seconds``, 60 s) whatever an
item's duration, and a replica killed with SIGKILL frees its items within one
lease.  A renewal that finds the token moved on (the item was taken over or
its cycle superseded) records the claim *lost*; the item's handler asks
:meth:`Heartbeat.held` between tenants and stops touching the cloud
(reconcile), and :func:`complete` refuses its writes anyway (metering).

Audit: the claim's *state changes* are audited — ``work.claim_taken_over``
(an item claimed while another holder's lease had run out: that holder died
or stalled), ``work.item_released`` (given back after a failure) and
``work.claim_lost`` (a holder found it no longer held the item).  A renewal
is not a state change — same holder, same token, a later ``lease_until`` —
and there are many (a 1,000-tenant hour with ten-minute items renews every
20 s, thousands of rows a day that say nothing): it is a DEBUG log line, and
only a renewal that *fails* leaves a trace in the audit log.

On SQLite (one replica) ``FOR UPDATE`` is not rendered; SQLite's single
writer makes the claim exclusive anyway.

What this does not do: know what an item means (``ngc_pilot.shared_work``),
or fence a cloud call already under way when the claim is lost (reconcile
stops at the next tenant; its steps are idempotent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.claim_models import WorkClaim, WorkCycle
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import TransientError

log = logging.getLogger(__name__)


class ClaimLost(TransientError):
    """The item was claimed again after this replica's lease ran out; nothing was written."""


@dataclass(frozen=True)
class Replica:
    """Who claims (``host:pid``), for how long, and what ends the waiting."""

    owner: str
    stop: threading.Event = field(default_factory=threading.Event)
    lease_seconds: float = 60.0
    poll_seconds: float = 2.0
    renew_leases: bool = True  # False: the fixed lease of old (a baseline for bench and tests)
    tenants_per_item: int = 100
    cycle_key: str | None = None  # the fire time this run is for; None: a manual run
    now: datetime | None = None  # the clock a test sets; None: the time of planning


@dataclass(frozen=True)
class Claim:
    id: int
    cycle_id: int
    job: str
    item: int
    payload: dict[str, Any]
    token: int
    owner: str

    @property
    def subject(self) -> str:
        """How the audit log and the log name the item: ``job/cycle/item``."""
        return f"{self.job}/{self.cycle_id}/{self.item}"


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    finished: bool


def open_cycle(
    session: Session,
    job: str,
    key: str,
    owner: str,
    plan: dict[str, Any],
    payloads: Sequence[dict[str, Any]],
) -> WorkCycle:
    """A new cycle of ``job`` with one item per payload (``key`` must be new)."""
    cycle = WorkCycle(
        job=job,
        cycle_key=key,
        planned_by=owner,
        plan=plan,
        items_total=len(payloads),
        finished_at=utcnow() if not payloads else None,
    )
    session.add(cycle)
    session.flush()
    assert cycle.id is not None
    session.add_all(
        WorkClaim(cycle_id=cycle.id, item=i, payload=payload) for i, payload in enumerate(payloads)
    )
    session.flush()
    return cycle


def latest_cycle(session: Session, job: str, key: str) -> WorkCycle | None:
    """The newest cycle of ``job`` for fire time ``key`` (its re-runs are ``key/2``, ...)."""
    return session.exec(
        select(WorkCycle)
        .where(
            WorkCycle.job == job,
            or_(WorkCycle.cycle_key == key, col(WorkCycle.cycle_key).like(f"{key}/%")),
        )
        .order_by(col(WorkCycle.id).desc())
        .limit(1)
    ).first()


def abandon_others(session: Session, job: str, keep: int) -> int:
    """End ``job``'s unfinished cycles other than ``keep``: a newer plan supersedes them.

    Their open items are marked done unworked (and their tokens moved on, so a
    replica still working one cannot complete it); returns how many cycles.
    """
    now = utcnow()
    stale = list(
        session.exec(
            select(WorkCycle.id).where(
                WorkCycle.job == job,
                WorkCycle.id != keep,
                col(WorkCycle.finished_at).is_(None),
            )
        ).all()
    )
    if stale:
        session.execute(
            update(WorkClaim)
            .where(col(WorkClaim.cycle_id).in_(stale), col(WorkClaim.done_at).is_(None))
            .values(
                done_at=now,
                done_by="abandoned",
                token=WorkClaim.token + 1,
                result={"abandoned": True},
            )
        )
        session.execute(
            update(WorkCycle).where(col(WorkCycle.id).in_(stale)).values(finished_at=now)
        )
    return len(stale)


def claim_next(
    engine: Engine, owner: str, lease_seconds: float, *, cycle_id: int | None = None
) -> Claim | None:
    """Take the next open item (of ``cycle_id``, or of any cycle) for ``lease_seconds``."""
    now = utcnow()
    with session_scope(engine) as session:
        query = (
            select(WorkClaim, WorkCycle.job)
            .join(WorkCycle, col(WorkCycle.id) == col(WorkClaim.cycle_id))
            .where(
                col(WorkClaim.done_at).is_(None),
                or_(col(WorkClaim.lease_until).is_(None), col(WorkClaim.lease_until) < now),
            )
            .order_by(col(WorkClaim.cycle_id), col(WorkClaim.item))
            .limit(1)
            .with_for_update(skip_locked=True, of=WorkClaim)  # type: ignore[arg-type]
        )
        if cycle_id is not None:
            query = query.where(WorkClaim.cycle_id == cycle_id)
        found = session.exec(query).first()
        if found is None:
            return None
        row, job = found
        if row.owner is not None and row.lease_until is not None:
            # Held, not given back, and its lease ran out: the holder died or stalled.
            audit.record(
                session,
                actor=owner,
                action="work.claim_taken_over",
                subject=f"{job}/{row.cycle_id}/{row.item}",
                details={
                    "from": row.owner,
                    "lease_until": row.lease_until.isoformat(),
                    "fence": row.token + 1,  # the new token ("token" reads as a secret)
                },
            )
        row.owner = owner
        row.lease_until = now + timedelta(seconds=lease_seconds)
        row.token += 1
        row.attempts += 1
        session.add(row)
        assert row.id is not None
        return Claim(row.id, row.cycle_id, job, row.item, dict(row.payload), row.token, owner)


def complete(session: Session, claim: Claim, result: dict[str, Any]) -> bool:
    """Mark ``claim``'s item done in ``session``'s transaction; True if that finished its cycle.

    Raises :class:`ClaimLost` (roll back!) if the item was claimed again since.
    """
    now = utcnow()
    done = session.execute(
        update(WorkClaim)
        .where(
            WorkClaim.id == claim.id,
            WorkClaim.token == claim.token,
            col(WorkClaim.done_at).is_(None),
        )
        .values(done_at=now, done_by=claim.owner, result=result, lease_until=None, error=None)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ClaimLost(f"work item {claim.cycle_id}/{claim.item} was claimed by another replica")
    # The cycle row's lock orders the completions: exactly one sees the last.
    session.execute(
        update(WorkCycle)
        .where(WorkCycle.id == claim.cycle_id)
        .values(items_done=WorkCycle.items_done + 1)
    )
    cycle = session.exec(select(WorkCycle).where(WorkCycle.id == claim.cycle_id)).one()
    session.refresh(cycle)
    if cycle.items_done < cycle.items_total or cycle.finished_at is not None:
        return False
    cycle.finished_at = now
    session.add(cycle)
    return True


def renew(engine: Engine, claim: Claim, lease_seconds: float) -> bool:
    """Extend ``claim``'s lease to now + ``lease_seconds``; False if the claim is no longer held.

    Held means: the item's token is still ``claim.token`` and its owner
    ``claim.owner``.  An item this claim already completed counts as held
    (a renewal racing the completion is not a loss); it is not extended.
    """
    with session_scope(engine) as session:
        renewed = session.execute(
            update(WorkClaim)
            .where(
                WorkClaim.id == claim.id,
                WorkClaim.token == claim.token,
                WorkClaim.owner == claim.owner,
                col(WorkClaim.done_at).is_(None),
            )
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        )
        if renewed.rowcount == 1:  # type: ignore[attr-defined]
            return True
        row = session.exec(
            select(WorkClaim.token, WorkClaim.done_by).where(WorkClaim.id == claim.id)
        ).first()
        return row is not None and row[0] == claim.token and row[1] == claim.owner


def record_lost(engine: Engine, claim: Claim, detected_by: str) -> None:
    """Audit that ``claim``'s holder found the item no longer its own (``work.claim_lost``)."""
    with session_scope(engine) as session:
        audit.record(
            session,
            actor=claim.owner,
            action="work.claim_lost",
            subject=claim.subject,
            details={"fence": claim.token, "detected_by": detected_by},
        )


class Heartbeat:
    """Renews a claim's lease every ``lease_seconds / 3`` while the ``with`` block runs.

    A daemon thread, so a process that exits (or is killed) stops renewing and
    its items are free one lease later.  :meth:`held` is False once a renewal
    found the claim lost (``lost_at`` says when); a renewal that fails because
    the database is unreachable is logged and tried again at the next beat —
    if the lease runs out meanwhile, :func:`complete` still fences the writes.
    """

    def __init__(
        self, engine: Engine, claim: Claim, lease_seconds: float, *, renew: bool = True
    ) -> None:
        self.engine = engine
        self.renew = renew  # False: no thread, the fixed lease of old (a baseline)
        self.claim = claim
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3
        self.renewals = 0
        self.lost_at: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"ngc-lease-{claim.job}-{claim.item}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        if self.renew:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.renew:
            self._thread.join()

    def held(self) -> bool:
        """False once a renewal found the claim taken over or its cycle superseded."""
        return self.lost_at is None

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                held = renew(self.engine, self.claim, self.lease_seconds)
            except Exception as exc:  # the database is unreachable: try at the next beat
                log.warning("renewing %s: %s", self._name(), type(exc).__name__)
                continue
            if not held:
                self.lost_at = utcnow()
                log.warning("%s: lease renewal found the claim lost", self._name())
                return
            self.renewals += 1
            log.debug("%s: lease renewed for %.1f s", self._name(), self.lease_seconds)

    def _name(self) -> str:
        return f"work item {self.claim.subject}"


def release(engine: Engine, claim: Claim, error: str, retry_after: float) -> None:
    """Give ``claim``'s item back after a failure; any replica may retry it after ``retry_after``."""
    with session_scope(engine) as session:
        released = session.execute(
            update(WorkClaim)
            .where(
                WorkClaim.id == claim.id,
                WorkClaim.token == claim.token,
                col(WorkClaim.done_at).is_(None),
            )
            .values(
                owner=None,
                lease_until=utcnow() + timedelta(seconds=retry_after),
                error=error[:2000],
            )
        )
        if released.rowcount == 1:  # type: ignore[attr-defined]
            audit.record(
                session,
                actor=claim.owner,
                action="work.item_released",
                subject=claim.subject,
                details={"error": error[:200], "retry_after_seconds": retry_after},
            )


def progress(engine: Engine, cycle_id: int) -> Progress:
    with session_scope(engine) as session:
        cycle = session.exec(select(WorkCycle).where(WorkCycle.id == cycle_id)).one()
        return Progress(cycle.items_total, cycle.items_done, cycle.finished_at is not None)


def cycle(session: Session, cycle_id: int) -> WorkCycle:
    return session.exec(select(WorkCycle).where(WorkCycle.id == cycle_id)).one()


def results(session: Session, cycle_id: int) -> list[tuple[str | None, dict[str, Any]]]:
    """Each done item's (replica, result) of the cycle, in item order."""
    return [
        (done_by, result or {})
        for done_by, result in session.exec(
            select(WorkClaim.done_by, WorkClaim.result)
            .where(WorkClaim.cycle_id == cycle_id, col(WorkClaim.done_at).is_not(None))
            .order_by(col(WorkClaim.item))
        ).all()
    ]


def now_key(moment: datetime | None = None) -> str:
    """A cycle key for a run with no fire time (a manual run)."""
    return f"manual:{(moment or utcnow()).isoformat()}"
