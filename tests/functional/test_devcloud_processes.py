"""devcloud's process records tell how much CPU a daemon's whole process group used.

``bench/provision.py`` prints the cloud's CPU beside its times; it reads it
through ``Processes.group_cpu``, which counts the recorded leader's group (its
workers included) and nothing once the daemon is stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from support.paths import REPO

sys.path.insert(0, str(REPO / "devcloud"))

from devcloudctl.processes import Processes, cpu_seconds  # noqa: E402

# A leader that forks one worker; both spin until stopped.
_BUSY = "import os\nos.fork()\nwhile True:\n    pass\n"


def test_group_cpu_counts_the_leader_and_its_workers_and_nothing_after_a_stop(tmp_path: Path):
    procs = Processes(tmp_path / "run", tmp_path / "log")
    assert procs.group_cpu("busy") == 0.0  # never started
    leader = procs.start("busy", [sys.executable, "-c", _BUSY], {}, tmp_path)
    try:
        deadline = time.monotonic() + 30
        used = 0.0
        while used < 0.5 and time.monotonic() < deadline:
            time.sleep(0.2)
            used = procs.group_cpu("busy")
        assert used >= 0.5
        alone = cpu_seconds([leader.pid])
        later = procs.group_cpu("busy")
        assert later >= used  # it only grows while running
        assert later > alone  # the forked worker's CPU is counted too
    finally:
        assert procs.stop("busy")
    assert procs.group_cpu("busy") == 0.0
