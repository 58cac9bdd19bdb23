"""Two ``ngc-pilot serve`` processes on one database: one leads, each fire time runs once,
and when the leader is killed the standby takes over.

Real processes, a real PostgreSQL (and SQLite with its file lock), the real
scheduler; the job is ``tests/support/scheduled.py:tick`` firing every second
(through the ``NGC_PILOT_TEST_JOBS`` hook), because the service's own jobs
need a cloud and fire hourly.  No cloud is needed here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from support.paths import REPO

from ngc_pilot import migrate
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import JobRun

NGC = Path(sys.executable).parent / "ngc-pilot"
WAIT = 90.0  # seconds; an upper bound for polling, never a measured duration


class Serve:
    """One ``ngc-pilot serve`` process, its log in a file."""

    def __init__(self, name: str, tmp: Path, db_url: str):
        self.log = tmp / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NGC_PILOT_", "OS_"))}
        env.update(
            NGC_PILOT_DATABASE_URL=db_url,
            NGC_PILOT_VAR_DIR=str(tmp / "var"),  # shared: the SQLite lock file is there
            NGC_PILOT_TEST_JOBS=json.dumps(
                [{"id": "tick", "target": "support.scheduled:tick", "seconds": 1}]
            ),
            PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]),  # this checkout
        )
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [str(NGC), "serve", "--metrics-port", "0"],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, sig)

    def stop(self) -> int:
        """SIGTERM, then the exit code (SIGKILL if it does not stop in time)."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(10)
            raise AssertionError(
                f"serve {self.pid} ignored SIGTERM:\n{self.text()[-3000:]}"
            ) from None


@pytest.fixture
def db_url(database) -> str:
    engine = make_engine(database.url)
    migrate.upgrade(engine)  # before two processes race to do it
    engine.dispose()
    return database.url


@pytest.fixture
def serves(tmp_path: Path, db_url: str) -> Iterator[Callable[[str], Serve]]:
    started: list[Serve] = []

    def start(name: str) -> Serve:
        serve = Serve(name, tmp_path, db_url)
        started.append(serve)
        return serve

    yield start
    for serve in started:  # by PID, whatever happened in the test
        serve.signal(signal.SIGKILL)
        serve.process.wait(10)


def runs(db_url: str) -> list[JobRun]:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return list(
                session.exec(
                    select(JobRun).where(JobRun.job_id == "tick").order_by(col(JobRun.id))
                ).all()
            )
    finally:
        engine.dispose()


def pid_of(run: JobRun) -> int:
    return int(run.worker.rsplit(":", 1)[1])


def wait_for(what: str, predicate: Callable[[], Any], *serves: Serve) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    logs = "\n".join(f"--- {s.log.name}\n{s.text()[-2000:]}" for s in serves)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def test_two_serve_processes_run_each_fire_time_once_and_the_standby_takes_over(serves, db_url):
    first, second = serves("first"), serves("second")
    by_pid = {first.pid: first, second.pid: second}

    def done() -> list[JobRun]:
        return [r for r in runs(db_url) if r.status == "succeeded"]

    wait_for("five runs", lambda: len(done()) >= 5, first, second)
    leaders = {pid_of(r) for r in done()}
    assert len(leaders) == 1, f"runs by more than one process: {leaders}"
    leader = by_pid[leaders.pop()]
    standby = second if leader is first else first
    assert "standby:" in standby.text()
    assert f"leader: {socket.gethostname()}:{leader.pid} runs the scheduler" in leader.text()

    leader.signal(signal.SIGKILL)  # no goodbye: the lock goes with the process
    leader.process.wait(10)
    wait_for(
        "the standby to run three",
        lambda: sum(1 for r in done() if pid_of(r) == standby.pid) >= 3,
        standby,
    )
    assert standby.stop() == 0
    assert "stopped" in standby.text()

    rows = [r for r in runs(db_url) if r.status != "skipped"]
    per_fire_time = Counter(r.scheduled_for for r in rows)
    assert max(per_fire_time.values()) == 1, [t for t, n in per_fire_time.items() if n > 1]
    assert {r.status for r in rows} <= {"succeeded", "running"}  # "running": killed mid-run
    before = [r.scheduled_for for r in rows if pid_of(r) == leader.pid]
    after = [r.scheduled_for for r in rows if pid_of(r) == standby.pid]
    assert before and after and max(before) < min(after)
