"""Job functions for the scheduler tests: real code that the real scheduler runs.

They stand in for the service's jobs (metering, lifecycle), which need a
cloud, so that the scheduler's own behaviour (fire times, retries, locks,
take-over) is tested on its own.  ``ngc-pilot serve`` finds them through the
``NGC_PILOT_TEST_JOBS`` hook with ``tests/`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

from ngc_pilot.errors import PermanentError

SECRET = "hunter2"
URL_SECRET = "sekrit"

_calls: Counter[str] = Counter()
_calls_lock = threading.Lock()


def calls(name: str) -> int:
    return _calls[name]


def reset() -> None:
    with _calls_lock:
        _calls.clear()


def _count(name: str) -> int:
    with _calls_lock:
        _calls[name] += 1
        return _calls[name]


def tick(engine: Any) -> dict[str, Any]:
    """Succeeds at once and says which process ran it."""
    return {"pid": os.getpid(), "calls": _count("tick")}


def fail(engine: Any) -> None:
    """Fails every time, with a message that carries secrets (which must not be stored)."""
    _count("fail")
    raise RuntimeError(
        f"the cloud said no: password={SECRET} via postgresql://ngc:{URL_SECRET}@db.example/x"
    )


def flaky(engine: Any) -> dict[str, Any]:
    """Fails on its first two calls, then succeeds."""
    n = _count("flaky")
    if n < 3:
        raise ConnectionError(f"attempt {n}: connection reset")
    return {"calls": n}


def permanent(engine: Any) -> None:
    """Fails in a way no retry can fix."""
    _count("permanent")
    raise PermanentError("the price list is invalid; a person must fix it")


def partial(engine: Any) -> dict[str, Any]:
    """Returns a report with one failed tenant, then (called again) a clean one."""
    n = _count("partial")
    return {"checked": 2, "failed": 1 if n == 1 else 0}
