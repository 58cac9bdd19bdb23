"""The scheduler service on SQLite and PostgreSQL: retries, misfires, locks, ``jobs``.

The jobs here are the functions in ``tests/support/scheduled.py`` (the real
ones need a cloud); everything else is real: APScheduler with the job store in
the test database, the runner, the locks, the CLI.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select
from support import scheduled

from ngc_pilot.db import make_engine, session_scope, utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.jobs import job_status, next_runs
from ngc_pilot.models import JobRun
from ngc_pilot.settings import Settings, build_settings
from scheduler import runner
from scheduler.locks import LEADER_KEY, LEADER_NAMESPACE, job_lock, leader_lock
from scheduler.registry import JobDef, build_registry, default_jobs, every
from scheduler.runner import RunnerContext
from scheduler.service import RUN_JOB, Service, make_scheduler, sync_jobs

pytestmark = pytest.mark.migrated

WAIT = 60.0  # seconds; an upper bound for polling, never a measured duration


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    scheduled.reset()
    yield
    runner.configure(None)


@pytest.fixture
def engine(database) -> Iterator[Engine]:
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database, tmp_path: Path) -> Settings:
    return build_settings(
        overrides={"database": {"url": database.url}, "var_dir": str(tmp_path / "var")},
        environ={},
    )


def _no_cloud() -> Any:
    raise AssertionError("the test jobs use no cloud")


def job(job_id: str, target: str, **kwargs: Any) -> JobDef:
    kwargs.setdefault("trigger", every(minutes=1440))
    return JobDef(
        id=job_id,
        target=f"support.scheduled:{target}",
        uses=("engine",),
        schedule="test",
        description=f"test job {job_id}",
        **kwargs,
    )


def context_for(settings: Settings, engine: Engine, *jobs: JobDef) -> RunnerContext:
    return RunnerContext(
        settings=settings,
        engine=engine,
        registry={j.id: j for j in jobs},
        provisioner_factory=_no_cloud,
        worker="test:1",
    )


@contextmanager
def serving(context: RunnerContext) -> Iterator[Service]:
    service = Service(context, poll_seconds=0.1)
    thread = threading.Thread(target=service.run, name="serve", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        context.stop.set()
        thread.join(WAIT)
        assert not thread.is_alive(), "the service did not stop"


def wait_for(what: str, predicate: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def runs(engine: Engine, job_id: str) -> list[JobRun]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(JobRun).where(JobRun.job_id == job_id).order_by(col(JobRun.id))
            ).all()
        )


# ------------------------------------------------------------------ retries


def test_a_failing_job_is_retried_with_backoff_and_its_failure_shows_in_jobs(
    engine, settings, cli, caplog
):
    caplog.set_level(logging.DEBUG)
    failing = job(
        "failing",
        "fail",
        trigger=every(seconds=3),
        retries=2,
        backoff_seconds=0.2,
        backoff_max_seconds=0.3,
    )
    context = context_for(settings, engine, failing)

    def gave_up() -> bool:
        return any("gave_up_after_attempts" in r.summary for r in runs(engine, "failing"))

    with serving(context):
        wait_for("the failing job to give up", gave_up)

    rows = runs(engine, "failing")
    first = [r for r in rows if r.scheduled_for == rows[0].scheduled_for]
    assert [r.attempt for r in first] == [1, 2, 3]
    assert [r.status for r in first] == ["failed"] * 3
    assert [r.summary for r in first] == [
        {"retry_in_seconds": 0.2},
        {"retry_in_seconds": 0.3},  # 0.4 capped at backoff_max_seconds
        {"gave_up_after_attempts": 3, "retryable": True},
    ]
    for before, after, delay in zip(first, first[1:], (0.2, 0.3), strict=False):
        assert (after.started_at - before.finished_at).total_seconds() >= delay
    assert first[0].error.startswith("RuntimeError: the cloud said no: password=***")
    assert "postgresql://ngc:***@db.example/x" in first[0].error

    result = cli("jobs", "--json")
    assert result.code == 0, result.err
    entry = next(j for j in result.json() if j["job"] == "failing")
    assert entry["scheduled"] is True and entry["next_run"] is not None
    assert entry["last_run"]["status"] == "failed"
    assert "gave_up_after_attempts" in entry["last_run"]["summary"]
    assert entry["last_success"] is None
    assert entry["failures_since_success"] >= 3
    from ngc_pilot.metrics import registry_for
    from policies.tenancy import load_tenant_policy

    scrape = registry_for(engine, load_tenant_policy(None))
    labels = {"job_id": "failing"}
    assert scrape.get_sample_value("ngc_pilot_job_last_run_succeeded", labels) == 0
    everything = result.out + caplog.text + json.dumps([r.error for r in rows])
    assert scheduled.SECRET not in everything
    assert scheduled.URL_SECRET not in everything


def test_a_transient_failure_is_retried_until_it_succeeds(engine, settings):
    context = context_for(settings, engine, job("flaky", "flaky", backoff_seconds=0.01))
    outcome = runner.run(context, "flaky")
    assert (outcome.status, outcome.attempts) == ("succeeded", 3)
    assert [r.status for r in runs(engine, "flaky")] == ["failed", "failed", "succeeded"]
    with session_scope(engine) as session:
        (status,) = job_status(session, ["flaky"])
    assert status.last_run is not None and status.last_run.summary == {"calls": 3}
    assert status.last_success is not None and status.last_success.id == status.last_run.id
    assert status.failures_since_success == 0


def test_a_report_that_counts_failures_is_a_failed_attempt(engine, settings):
    context = context_for(settings, engine, job("partial", "partial", backoff_seconds=0.01))
    assert runner.run(context, "partial").status == "succeeded"
    failed, succeeded = runs(engine, "partial")
    assert failed.status == "failed"
    assert failed.summary == {"checked": 2, "failed": 1, "retry_in_seconds": 0.01}
    assert failed.error == "ReportedFailures: the job reported 1 failure(s); see its summary"
    assert (succeeded.status, succeeded.summary) == ("succeeded", {"checked": 2, "failed": 0})


def test_a_job_that_cannot_be_loaded_shows_at_start_and_fails_with_the_import_error(
    engine, settings
):
    broken = job("broken", "no_such_function", backoff_seconds=0.01, retries=0)
    message = "AttributeError: module 'support.scheduled' has no attribute 'no_such_function'"
    assert runner.preload({"broken": broken}) == {"broken": message}
    assert runner.run(context_for(settings, engine, broken), "broken").error == message


def test_a_permanent_error_is_not_retried(engine, settings):
    context = context_for(settings, engine, job("permanent", "permanent", backoff_seconds=0.01))
    outcome = runner.run(context, "permanent")
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert scheduled.calls("permanent") == 1
    (row,) = runs(engine, "permanent")
    assert row.summary == {"gave_up_after_attempts": 1, "retryable": False}
    assert row.error == "PermanentError: the price list is invalid; a person must fix it"


# ---------------------------------------------------------- misfire and store


def test_a_run_missed_while_down_runs_exactly_once_on_start(engine, settings, cli):
    daily = every(minutes=1440)
    now = utcnow()
    latest = daily.get_next_fire_time(None, now) - timedelta(days=1)  # last fire time <= now
    # A previous serve left the job in the store; four fire times passed since.
    previous = make_scheduler(engine)
    previous.start(paused=True)
    previous.add_job(
        RUN_JOB, trigger=daily, args=["tick"], id="tick", next_run_time=latest - timedelta(days=3)
    )
    previous.shutdown()

    context = context_for(settings, engine, job("tick", "tick", trigger=daily))
    with serving(context):
        wait_for("the missed run", lambda: [r for r in runs(engine, "tick") if r.finished_at])
    (row,) = runs(engine, "tick")
    assert row.status == "succeeded"
    assert row.scheduled_for == latest  # coalesced into the latest missed fire time
    with session_scope(engine) as session:
        assert next_runs(session)["tick"] == latest + timedelta(days=1)

    # Starting again re-adds the job (replace_existing) but neither runs nor moves it.
    context.stop = threading.Event()
    with serving(context) as service:
        wait_for("leadership", service.leading.is_set)
    assert len(runs(engine, "tick")) == 1
    result = cli("jobs", "--json")
    entry = next(j for j in result.json() if j["job"] == "tick")
    assert entry["next_run"] == (latest + timedelta(days=1)).isoformat()
    assert entry["last_run"]["status"] == "succeeded"
    assert entry["last_run"]["scheduled_for"] == latest.isoformat()
    assert entry["last_success"]["id"] == entry["last_run"]["id"]


def test_restart_applies_a_changed_interval_keeps_a_due_run_and_drops_removed_jobs(engine):
    now = utcnow()
    hourly, five = every(minutes=60), every(minutes=5)
    due = now - timedelta(minutes=90)
    store = make_scheduler(engine)
    store.start(paused=True)
    try:
        store.add_job(RUN_JOB, trigger=hourly, args=["a"], id="a")
        store.add_job(RUN_JOB, trigger=hourly, args=["b"], id="b")
        store.add_job(RUN_JOB, trigger=hourly, args=["c"], id="c", next_run_time=due)
        store.add_job(RUN_JOB, trigger=hourly, args=["gone"], id="gone")
        first_a = store.get_job("a").next_run_time

        planned = sync_jobs(
            store,
            {
                "a": job("a", "tick", trigger=hourly),  # unchanged
                "b": job("b", "tick", trigger=five),  # interval changed
                "c": job("c", "tick", trigger=five),  # changed, but a run is due
                "new": job("new", "tick", trigger=five),
            },
            now,
        )
        assert store.get_job("a").next_run_time == first_a
        assert planned["b"] == five.get_next_fire_time(None, now)
        assert planned["b"] - now <= timedelta(minutes=5)
        assert store.get_job("c").next_run_time == due
        assert store.get_job("new").next_run_time == five.get_next_fire_time(None, now)
        assert store.get_job("gone") is None
    finally:
        store.shutdown()


# ------------------------------------------------------------------- locks


def test_a_job_running_elsewhere_is_skipped_and_a_fire_time_runs_once(engine, settings):
    context = context_for(settings, engine, job("tick", "tick"))
    with job_lock(engine, settings.lock_file, "tick") as got:
        assert got
        busy = runner.run(context, "tick")
    assert busy.status == "skipped" and busy.summary == {"reason": "running elsewhere"}
    assert scheduled.calls("tick") == 0

    fire_time = utcnow().replace(microsecond=0)
    assert runner.run(context, "tick", scheduled_for=fire_time).status == "succeeded"
    again = runner.run(context, "tick", scheduled_for=fire_time)
    assert again.status == "skipped" and again.summary == {"reason": "this fire time already ran"}
    assert scheduled.calls("tick") == 1
    with session_scope(engine) as session:
        (status,) = job_status(session, ["tick"])
    assert status.last_run is not None and status.last_run.status == "succeeded"


def test_one_leader_at_a_time_and_the_next_one_takes_over(engine, settings):
    first = leader_lock(engine, settings.lock_file)
    second = leader_lock(engine, settings.lock_file)
    assert first.try_acquire()
    try:
        assert not second.try_acquire()
        assert first.held()
    finally:
        first.release()
    assert second.try_acquire()
    second.release()


def _terminate_leader_session(engine: Engine) -> None:
    with engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid::bigint = :ns AND objid::bigint = :key AND granted"
                # pg_locks is server-wide: only this test's database's leader, not another
                # test's running beside it (pytest -n)
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": LEADER_NAMESPACE, "key": LEADER_KEY},
        ).all()
        conn.commit()
    assert killed == [(True,)]


def test_a_leader_whose_connection_drops_stops_and_stands_by(engine, settings, database):
    if database.backend != "postgresql":
        pytest.skip("a file lock has no connection to lose")
    context = context_for(settings, engine, job("tick", "tick"))
    other = leader_lock(engine, settings.lock_file)
    with serving(context) as service:
        wait_for("leadership", service.leading.is_set)
        _terminate_leader_session(engine)
        wait_for("another process to take the lock", other.try_acquire)
        wait_for("the old leader to step down", lambda: not service.leading.is_set())
        time.sleep(0.5)  # several of its polls: it must stay standby
        assert not service.leading.is_set()
        other.release()
        wait_for("leadership again", service.leading.is_set)


# ---------------------------------------------------------------- registry


def test_the_registry_schedules_the_service_jobs_from_settings():
    settings = build_settings(
        overrides={"service": {"meter_minutes": 15, "daily_at": "03:30"}}, environ={}
    )
    registry = build_registry(settings.service, environ={})
    assert list(registry) == [
        "meter",
        "capacity",
        "reconcile",
        "expiry",
        "data_access",
        "rate",
        "report",
        "mail",
        "statement",
    ]
    assert registry["report"].target == "ngc_pilot.reports:monthly_report"
    assert str(registry["report"].trigger) == "cron[day='1', hour='4', minute='30']"
    assert registry["meter"].target == "ngc_pilot.shared_work:meter_job"
    assert registry["meter"].uses == ("prov", "settings", "replica")
    assert registry["meter"].trigger.interval == timedelta(minutes=15)
    assert str(registry["expiry"].trigger) == "cron[hour='3', minute='30']"
    assert {j.id for j in default_jobs(settings.service) if j.group == "tenants"} == {
        "reconcile",
        "expiry",
        "data_access",
    }


def test_the_test_hook_replaces_the_registry_and_a_bad_one_is_refused():
    hook = json.dumps([{"id": "tick", "target": "support.scheduled:tick", "seconds": 2}])
    registry = build_registry(Settings().service, environ={"NGC_PILOT_TEST_JOBS": hook})
    assert list(registry) == ["tick"]
    assert registry["tick"].trigger.interval == timedelta(seconds=2)
    with pytest.raises(InputError, match="NGC_PILOT_TEST_JOBS"):
        build_registry(Settings().service, environ={"NGC_PILOT_TEST_JOBS": "[{}]"})


def test_jobs_run_refuses_an_unknown_job(cli):
    result = cli("jobs", "run", "nope")
    assert result.code == 2
    assert "JOB = 'nope': no such job; jobs: meter, capacity" in result.err
