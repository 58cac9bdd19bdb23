"""Provision one pilot's namespace tenant and SIGKILL this process right after step N is
recorded done: the fault comes through the ledger callback of ``provisioner.apply``.

Usage: python kill_mid_k8s_apply.py KUBECONFIG PILOT_ID N.  Exits 0 when the plan
had fewer than N steps (it completed before the kill), 1 if a step failed.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from pathlib import Path

from policies.tenancy import load_tenant_policy
from provisioner.apply import apply
from provisioner.kubernetes.backend import KubernetesBackend
from provisioner.kubernetes.desired import desired_namespace
from provisioner.kubernetes.plan import plan


def main(kubeconfig: str, pilot_id: str, kill_after: int) -> int:
    backend = KubernetesBackend(Path(kubeconfig))
    tenant = desired_namespace(
        pilot_id=pilot_id,
        pilot_name="kill -9",
        size="small",
        end=date.today().replace(year=date.today().year + 1),
        policy=load_tenant_policy(),
        members=("member@example.org",),
    )
    done = 0

    def ledger(change, state, result, error) -> None:
        nonlocal done
        if state == "done":
            done += 1
            if done == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    report = apply(plan(tenant, backend.observe(tenant)), tenant, backend, ledger=ledger)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
