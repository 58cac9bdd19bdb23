"""The alert rules in ``ops/prometheus/``: valid, unit-tested by promtool, and
written against the metrics ``ngc-pilot serve`` really exposes.

``promtool`` is the real one (``support/prometheus.py`` installs it when
missing).  The unit tests themselves are in
``ops/prometheus/tests/*.test.yml``; here we run them and check
that every alert has a case that fires it and a case where it stays quiet.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support.paths import REPO
from support.prometheus import ensure_binaries

from ngc_pilot.db import make_engine
from ngc_pilot.exposition import render
from ngc_pilot.metrics import registry_for
from ngc_pilot.migrate import upgrade
from ngc_pilot.settings import ServiceSettings
from policies.tenancy import load_tenant_policy
from scheduler.registry import default_jobs

RULES = REPO / "ops" / "prometheus"
ALERTS = RULES / "ngc-pilot-alerts.yml"
INTERVALS = RULES / "ngc-pilot-job-intervals.yml"
UNIT_TESTS = sorted((RULES / "tests").glob("*.test.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    _, binary = ensure_binaries()
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_rule_files_pass_promtool_check():
    result = promtool("check", "rules", str(ALERTS), str(INTERVALS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass():
    result = promtool("test", "rules", *map(str, UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_fails_when_an_alert_does_not_fire(tmp_path: Path):
    """The unit tests can fail: with the database alert's threshold inverted they do."""
    broken = tmp_path / "ngc-pilot-alerts.yml"
    broken.write_text(
        ALERTS.read_text().replace(
            "max(ngc_pilot_database_up) == 0", "max(ngc_pilot_database_up) == 2"
        )
    )
    (tmp_path / "ngc-pilot-job-intervals.yml").write_text(INTERVALS.read_text())
    (tmp_path / "tests").mkdir()
    for path in UNIT_TESTS:
        (tmp_path / "tests" / path.name).write_text(path.read_text())
    result = promtool("test", "rules", *map(str, sorted((tmp_path / "tests").iterdir())))
    assert result.returncode != 0
    assert "NgcPilotDatabaseDown" in result.stdout + result.stderr


def test_every_alert_has_a_case_that_fires_it_and_one_where_it_stays_quiet():
    cases = [case for path in UNIT_TESTS for case in yaml.safe_load(path.read_text())["tests"]]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert len(names) == 8
    assert names - fired == set(), "alerts no test fires"
    assert names - quiet == set(), "alerts no test keeps quiet"


def exposed_metric_names(tmp_path: Path) -> set[str]:
    """Every sample name /metrics can carry (families are declared even when empty)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'metrics.db'}")
    upgrade(engine, "head")
    text = render(registry_for(engine, load_tenant_policy()).collect()).decode()
    engine.dispose()
    return set(re.findall(r"^# TYPE (\S+) \S+$", text, flags=re.M))


def test_alerts_use_only_metrics_that_ngc_pilot_exposes(tmp_path: Path):
    exposed = exposed_metric_names(tmp_path)
    used = {
        name
        for rule in alert_rules()
        for name in re.findall(r"\bngc_pilot_[a-z_]+\b", rule["expr"])
    }
    assert used, "no metric found in the rules"
    assert used - exposed == set()


def trigger_seconds(trigger) -> float:
    interval = getattr(trigger, "interval", None)
    if interval is not None:
        return interval.total_seconds()
    if str(getattr(trigger, "fields", [None, None, ""])[2]) != "*":
        return 31 * 86400.0  # the monthly cron jobs: the longest month
    return 86400.0  # the daily cron jobs


@pytest.mark.parametrize("job", default_jobs(ServiceSettings()), ids=lambda job: job.id)
def test_job_intervals_file_holds_each_jobs_default_interval(job):
    recorded = {
        rule["labels"]["job_id"]: float(re.fullmatch(r"vector\((\d+)\)", rule["expr"]).group(1))
        for group in yaml.safe_load(INTERVALS.read_text())["groups"]
        for rule in group["rules"]
    }
    assert recorded[job.id] == trigger_seconds(job.trigger)
