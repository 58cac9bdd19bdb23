"""``apply(plan)``: run a plan's changes in order against a backend.

Each change is reported to the ``ledger`` callback before ("started") and
after ("done" or "failed"), so the shell can record progress durably and a
crash at any point is visible and resumable.  An application credential's
secret is handed to ``on_secret`` and nowhere else.  Stops at the first
failure: later steps depend on earlier ones.  The same loop runs an OpenStack
plan (a project) and a Kubernetes plan (a namespace).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from provisioner.backend import CloudBackend, CloudError, ClusterBackend, StepResult
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
) -> ApplyReport:
    started = time.perf_counter()
    report = ApplyReport(plan.pilot_id)
    for change in plan.changes:
        if ledger:
            ledger(change, "started", None, None)
        try:
            result = backend.execute(change, desired)
        except CloudError as exc:
            report.failed, report.error, report.transient = change.step, str(exc), exc.transient
            if ledger:
                ledger(change, "failed", None, str(exc))
            break
        if result.secret is not None and on_secret is not None:
            on_secret(result.secret, result)
        if ledger:
            ledger(change, "done", result, None)
        report.done.append(change.step)
    report.seconds = time.perf_counter() - started
    return report
