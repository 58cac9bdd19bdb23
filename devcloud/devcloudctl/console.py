"""Progress lines with elapsed time, so a slow step is visible as it happens."""

from __future__ import annotations

import sys
import time


class Console:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        print(f"devcloud [{self.elapsed():5.1f}s] {message}", flush=True)

    def warn(self, message: str) -> None:
        print(f"devcloud [{self.elapsed():5.1f}s] WARNING: {message}", file=sys.stderr, flush=True)


class DevcloudError(Exception):
    """A failure to report to the user in one line (plus where to look), exit 1."""
