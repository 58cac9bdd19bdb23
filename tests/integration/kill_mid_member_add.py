"""Add a member and SIGKILL this process right after their credential step is
recorded done in the ledger — after the credential exists, before the notice
is queued.  The fault is injected through the ledger's progress callback.

Usage: python kill_mid_member_add.py DATABASE_URL PILOT_ID EMAIL, with the
environment ``ngc-pilot`` would read (NGC_PILOT_CLOUD__CLOUDS_FILE, NGC_PILOT_VAR_DIR).
"""

from __future__ import annotations

import os
import signal
import sys

from ngc_pilot.db import make_engine
from ngc_pilot.members import add_member
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.settings import build_settings
from policies.tenancy import load_tenant_policy
from provisioner.openstack import OpenStackBackend


def main(database_url: str, pilot_id: str, email: str) -> int:
    settings = build_settings()

    def killed_after_the_credential(pilot: str, step: str, index: int, total: int) -> None:
        if "member_application_credential" in step:
            os.kill(os.getpid(), signal.SIGKILL)

    prov = Provisioner(
        engine=make_engine(database_url),
        tenant_policy=load_tenant_policy(),
        backend_factory=lambda: OpenStackBackend(settings.cloud.name, settings.cloud.clouds_file),
        cloud=settings.cloud.name,
        environments_dir=settings.environments_dir.resolve(),
        actor="integration",
    )
    outcome = add_member(prov, pilot_id, email, progress=killed_after_the_credential)
    return 0 if outcome.state == "active" else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
