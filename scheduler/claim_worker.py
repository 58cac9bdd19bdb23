"""The thread in every ``serve`` process that works shared items, leader or standby.

The leader's scheduler runs the ``meter`` and ``reconcile`` jobs, which plan a
cycle of items (:mod:`ngc_pilot.shared_work`); this thread is how the other
replicas take their share: it claims one open item at a time, does it, and
polls every ``service.claim_poll_seconds`` when there is none.  It runs in the leader too
(its job run works items as well).  Not here: what an item is, or the claim
mechanics (:mod:`ngc_pilot.claims`).  It does not take the in-process
``tenants`` group lock of :mod:`scheduler.runner`: a reconcile shard here can
overlap an expiry run in the leader, as a reconcile on another replica could.
"""

from __future__ import annotations

import logging
import threading

from ngc_pilot import shared_work
from scheduler import recording
from scheduler.runner import RunnerContext

log = logging.getLogger(__name__)


class ClaimWorker(threading.Thread):
    """Claims and works shared items until ``context.stop`` is set."""

    def __init__(self, context: RunnerContext):
        super().__init__(name="ngc-claims", daemon=True)
        self.context = context

    def run(self) -> None:
        replica = self.context.replica()
        stop = self.context.stop
        while not stop.is_set():
            try:
                busy = shared_work.work_one(self.context.engine, self.context.provisioner, replica)
            except Exception as exc:  # the database is unreachable: try again later
                log.warning("claims: %s", recording.error_text(exc))
                busy = False
            if not busy:
                stop.wait(replica.poll_seconds)
