"""``apply(plan)``: run a plan's changes in order against a backend.

Each change is reported to the ``ledger`` callback before ("started") and
after ("done" or "failed"), so the shell can record progress durably and a
crash at any point is visible and resumable.  An application credential's
secret is handed to ``on_secret`` and nowhere else.  Stops at the first
failure: later steps depend on earlier ones.  The same loop runs an OpenStack
plan (a project) and a Kubernetes plan (a namespace); a provisioning plan's
independent chains (``provisioner.chains``) may run concurrently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from provisioner.backend import CloudBackend, CloudError, ClusterBackend, StepResult
from provisioner.chains import AFTER, chains
from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.model import Change, DesiredTenant, Plan
from provisioner.secrets import Secret

Ledger = Callable[[Change, str, StepResult | None, str | None], None]


@dataclass
class ApplyReport:
    pilot_id: str
    done: list[str] = field(default_factory=list)
    failed: str | None = None
    error: str | None = None
    transient: bool = False  # the failure may pass: re-observe and try again
    seconds: float = 0.0
    ids: dict[str, str | None] = field(default_factory=dict)  # step -> id of what it acted on
    unconfirmed: list[str] = field(default_factory=list)  # done, but the answer did not show it

    @property
    def ok(self) -> bool:
        return self.failed is None


def apply(
    plan: Plan,
    desired: DesiredTenant | NamespaceTenant,
    backend: CloudBackend | ClusterBackend,
    *,
    ledger: Ledger | None = None,
    on_secret: Callable[[Secret, StepResult], None] | None = None,
    concurrent: bool = False,
) -> ApplyReport:
    """Run ``plan``'s changes; ``concurrent``: its chains at once (``provisioner.chains``).

    Concurrently, the head (domain, project) runs first; then each chain runs
    in plan order in its own thread (a change named in ``chains.AFTER`` first
    waits for the changes it names), and after a failure no chain starts
    another change (those under way finish).  ``report.done`` is in the order
    the changes finished; ``report.failed`` is the first change that failed.
    The backend, ``ledger`` and ``on_secret`` must then bear calls from
    several threads.
    """
    started = time.perf_counter()
    report = ApplyReport(plan.pilot_id)
    lock = threading.Condition()
    finished: set[int] = set()  # ``id()`` of each change done
    broken: list[BaseException] = []  # a chain's thread raised (a bug): the others stop

    def ready(change: Change) -> bool:
        """Whether ``change`` may start: the changes it waits for (``chains.AFTER``) are done."""
        first = AFTER.get(change.resource, frozenset())
        return all(id(c) in finished for c in plan.changes if c.resource in first)

    def run(changes: Sequence[Change], wait: bool = False) -> None:
        for change in changes:
            with lock:
                if wait:
                    lock.wait_for(lambda c=change: broken or not report.ok or ready(c))
                if broken or not report.ok:
                    return
            if ledger:
                ledger(change, "started", None, None)
            try:
                result = backend.execute(change, desired)
            except CloudError as exc:
                with lock:
                    if report.ok:
                        report.failed, report.error = change.step, str(exc)
                        report.transient = exc.transient
                    lock.notify_all()
                if ledger:
                    ledger(change, "failed", None, str(exc))
                return
            if result.secret is not None and on_secret is not None:
                on_secret(result.secret, result)
            if ledger:
                ledger(change, "done", result, None)
            with lock:
                report.done.append(change.step)
                report.ids[change.step] = result.resource_id
                if not result.confirmed:
                    report.unconfirmed.append(change.step)
                finished.add(id(change))
                lock.notify_all()

    split = chains(plan) if concurrent else None
    if split is None:
        run(plan.changes)
    else:
        head, parallel = split
        run(head)
        if len(parallel) == 1:
            run(parallel[0])
        elif parallel and report.ok:

            def run_chain(chain: Sequence[Change]) -> None:
                try:
                    run(chain, wait=True)
                except BaseException as exc:
                    with lock:
                        broken.append(exc)
                        lock.notify_all()
                    raise

            with ThreadPoolExecutor(max_workers=len(parallel)) as pool:
                for future in [pool.submit(run_chain, chain) for chain in parallel]:
                    future.result()  # a bug in a chain is raised here, as it would be in order
    report.seconds = time.perf_counter() - started
    return report
