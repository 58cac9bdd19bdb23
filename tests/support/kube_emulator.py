"""Start devcloud's Kubernetes API emulator for a test, standalone, on a free port.

The shared devcloud's emulator holds other engineers' objects; a test that
needs a clean cluster starts its own with this (a subprocess of the test's
Python, which has kubernetes-validate from the dev extra) and stops it by PID.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.paths import REPO


@dataclass(frozen=True)
class RunningEmulator:
    url: str
    admin_token: str
    pid: int


@contextmanager
def running_emulator(tmp: Path) -> Iterator[RunningEmulator]:
    token = secrets.token_urlsafe(24)
    token_file = tmp / "admin-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    env = {**os.environ, "PYTHONPATH": str(REPO / "devcloud")}
    log = open(tmp / "emulator.log", "wb")  # noqa: SIM115 (closed below, after the child)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kube_emulator",
            "--port",
            "0",
            "--admin-token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not match:
            raise RuntimeError(
                f"the emulator did not start: {line!r}\n{(tmp / 'emulator.log').read_text()}"
            )
        yield RunningEmulator(match.group(0), token, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
        log.close()
