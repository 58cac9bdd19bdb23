"""A ``serve``-like replica that runs one metering cycle and hangs mid-item, to be killed.

Usage: python -m support.lease_worker DATABASE_URL CYCLE_KEY NOW MARKER LEASE_SECONDS [fixed]

It runs the ``meter`` job (``ngc_pilot.shared_work.meter_job``, as the
leader's scheduler does) for ``CYCLE_KEY`` at the clock ``NOW``, three tenants
per item, with a lease of ``LEASE_SECONDS`` that its heartbeat renews.  Its
usage reader answers the first call; on the second it writes ``MARKER`` (one
item done, the next one claimed) and waits for ever, renewing the claim,
until the test kills it with SIGKILL.  ``fixed``: no renewal (the lease of
old, for ``bench/lease_renewal.py``'s baseline).  The fault is in the cloud double, not
in the service.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from pathlib import Path

from ngc_pilot import claims, shared_work
from ngc_pilot.db import make_engine
from ngc_pilot.settings import build_settings
from support.replicas import HOURLY, Reader, provisioner


def main(url: str, key: str, now: str, marker: str, lease: str, mode: str = "renewed") -> int:
    def hang_on_the_second_call(n: int) -> None:
        if n == 2:
            Path(marker).write_text("claimed\n")
            threading.Event().wait()

    engine = make_engine(url)
    prov = provisioner(engine, Reader(hang_on_the_second_call), Path(marker).parent)
    settings = build_settings(overrides={"metering": HOURLY.model_dump()}, environ={})
    replica = claims.Replica(
        "killed:1",
        lease_seconds=float(lease),
        renew_leases=mode != "fixed",
        tenants_per_item=3,
        cycle_key=key,
        now=datetime.fromisoformat(now),
    )
    shared_work.meter_job(prov, settings, replica)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
