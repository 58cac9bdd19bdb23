"""Provision one pilot's tenant and SIGKILL this process right after the first
step is recorded done in the ledger: the fault is injected through the ledger's
progress callback, not through a hook in the service.

Usage: python kill_mid_apply.py DATABASE_URL PILOT_ID, with the environment
``ngc-pilot`` would read (NGC_PILOT_CLOUD__CLOUDS_FILE, NGC_PILOT_VAR_DIR).
Exits 0 when no step was left to do (the tenant converged), 1 if it failed.
"""

from __future__ import annotations

import os
import signal
import sys

from ngc_pilot.db import make_engine
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.provisioning import provision
from ngc_pilot.settings import build_settings
from policies.tenancy import load_tenant_policy
from provisioner.openstack_backend import OpenStackBackend


def main(database_url: str, pilot_id: str) -> int:
    settings = build_settings()

    def killed_after_the_step(pilot: str, step: str, index: int, total: int) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    prov = Provisioner(
        engine=make_engine(database_url),
        tenant_policy=load_tenant_policy(),
        backend_factory=lambda: OpenStackBackend(settings.cloud.name, settings.cloud.clouds_file),
        cloud=settings.cloud.name,
        environments_dir=settings.environments_dir.resolve(),
        actor="integration",
    )
    [outcome] = provision(prov, [pilot_id], progress=killed_after_the_step)
    return 0 if outcome.state == "active" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
