"""A real Prometheus scrapes a real ``ngc-pilot serve`` that snapshots devcloud's Placement.

``serve`` runs as its own process with one job, the capacity snapshot, every
two seconds (through the scheduler's ``NGC_PILOT_TEST_JOBS`` hook, so no
other job touches devcloud or the seeded tenant).  Prometheus (Debian's
package, started on a free loopback port by ``support/prometheus.py``)
scrapes ``/metrics`` every second; the assertions are PromQL queries through
its HTTP API.  What Placement holds is read independently with a token from
the real ``openstack`` CLI and plain HTTP against Placement's own API.  The
usage, invoice and tenant rows are seeded directly: metering and billing are
tested in their own integration tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import openstack
from support.metrics_seed import T0, add_pilots
from support.paths import REPO
from support.prometheus import PrivatePrometheus, dashboard_exprs, free_port, grafana_to_promql

from ngc_pilot import migrate
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import Invoice, UsageRecord
from policies.tenancy import load_tenant_policy

NGC = Path(sys.executable).parent / "ngc-pilot"
DASHBOARD = REPO / "ops" / "grafana" / "ngc-pilot.json"
PILOT = "IT-PROM-1"
HOURS = 5  # seeded usage windows of 1.5 vCPU-hours each


def placement(clouds: Path) -> dict[str, dict[str, float]]:
    """Placement's inventory and usage per resource class, summed over all providers."""
    token = openstack(clouds, "token", "issue", "-f", "json")["id"]
    endpoint = openstack(
        clouds, "endpoint", "list", "--service", "placement", "--interface", "public", "-f", "json"
    )[0]["URL"]

    def get(path: str) -> dict:
        request = urllib.request.Request(
            endpoint.rstrip("/") + path,
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "placement 1.6"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.load(reply)

    out: dict[str, dict[str, float]] = {}
    for provider in get("/resource_providers")["resource_providers"]:
        inventories = get(f"/resource_providers/{provider['uuid']}/inventories")["inventories"]
        usages = get(f"/resource_providers/{provider['uuid']}/usages")["usages"]
        for rc, inv in inventories.items():
            line = out.setdefault(rc, {"total": 0.0, "reserved": 0.0, "capacity": 0.0, "used": 0.0})
            line["total"] += inv["total"]
            line["reserved"] += inv["reserved"]
            line["capacity"] += (inv["total"] - inv["reserved"]) * inv["allocation_ratio"]
            line["used"] += usages.get(rc, 0)
    return out


@pytest.fixture
def seeded(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'ngc.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        add_pilots(session, {PILOT: ("active", "small", date.today() + timedelta(days=30))})
    with session_scope(engine) as session:
        for hour in range(HOURS):
            start = T0 + timedelta(hours=hour)
            session.add(
                UsageRecord(
                    pilot_id=PILOT,
                    metric="vcpu_hours",
                    window_start=start,
                    window_end=start + timedelta(hours=1),
                    quantity=Decimal("1.5"),
                    source="nova",
                )
            )
        session.add(
            Invoice(
                pilot_id=PILOT,
                month="2021-05",
                list_total=Decimal("321.50"),
                discount_total=Decimal("321.50"),
                charged_total=Decimal("0.00"),
                rated_by="tests",
            )
        )
    engine.dispose()
    return url


@pytest.fixture
def serve(devcloud, seeded, tmp_path):
    """``ngc-pilot serve`` on a free port, snapshotting capacity every 2 s; stopped by PID."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NGC_PILOT_", "OS_"))}
    env.update(
        NGC_PILOT_CLOUD__CLOUDS_FILE=str(devcloud),
        NGC_PILOT_VAR_DIR=str(tmp_path / "var"),
        NGC_PILOT_TEST_JOBS=json.dumps(
            [
                {
                    "id": "capacity",
                    "target": "ngc_pilot.capacity_snapshot:snapshot",
                    "seconds": 2,
                    "uses": ["prov"],
                }
            ]
        ),
    )
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [str(NGC), "--db", seeded, "--actor", "integration", "serve", "--metrics-port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("serve did not answer /metrics: " + (tmp_path / "serve.log").read_text())
        yield port, tmp_path / "serve.log"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def test_prometheus_scrapes_serve_and_answers_promql_with_the_pilots_numbers(devcloud, serve):
    port, serve_log = serve
    with PrivatePrometheus([f"127.0.0.1:{port}"]) as prom:
        # Prometheus has scraped a snapshot that serve's capacity job took from devcloud.
        prom.wait_for("ngc_pilot_capacity_inventory_vcpus", timeout=90)
        prom.wait_for('ngc_pilot_job_runs_total{job_id="capacity", status="succeeded"} >= 2')
        assert prom.values('up{job="ngc-pilot"}') == {"": 1.0}

        # Capacity equals what Placement says (read independently).  Usage may move
        # while other tests boot servers, so it is compared when it held still.
        before = placement(devcloud)
        time.sleep(3)  # a snapshot taken and scraped after `before`
        seen = prom.values("ngc_pilot_capacity_used_vcpus")[""]
        after = placement(devcloud)
        vcpu = after["VCPU"]
        assert prom.values("ngc_pilot_capacity_inventory_vcpus") == {"": vcpu["total"]}
        assert prom.values("ngc_pilot_capacity_allocatable_vcpus")[""] == pytest.approx(
            vcpu["capacity"]
        )
        assert prom.values("ngc_pilot_capacity_allocatable_memory_bytes")[""] == pytest.approx(
            after["MEMORY_MB"]["capacity"] * 2**20
        )
        assert prom.values("ngc_pilot_capacity_reserved_disk_bytes")[""] == pytest.approx(
            after["DISK_GB"]["reserved"] * 2**30
        )
        if before["VCPU"]["used"] == vcpu["used"]:
            assert seen == vcpu["used"]

        # What the seeded tenant was promised, and what it used, through PromQL.
        small = load_tenant_policy().sizes["small"]
        assert prom.values("ngc_pilot_capacity_allocated_vcpus") == {"": float(small.cores)}
        assert prom.values(
            "ngc_pilot_capacity_allocated_vcpus - scalar(sum(ngc_pilot_tenant_quota_vcpus))"
        ) == {"": 0.0}
        assert prom.values(f'ngc_pilot_usage_vcpu_seconds_total{{pilot="{PILOT}"}}', "pilot") == {
            PILOT: HOURS * 1.5 * 3600
        }
        assert prom.values("sum by (pilot) (ngc_pilot_cost_list_dkk)", "pilot") == {PILOT: 321.5}
        assert prom.values("ngc_pilot_cost_charged_dkk", "pilot") == {PILOT: 0.0}
        assert prom.values('ngc_pilot_tenant_state{state="active"}', "pilot") == {PILOT: 1.0}
        days = prom.values("(ngc_pilot_tenant_expiry_timestamp_seconds - time()) / 86400")[""]
        assert 30 < days <= 31
        assert prom.values('ngc_pilot_job_last_run_succeeded{job_id="capacity"}') == {"": 1.0}
        age = prom.values(
            'time() - ngc_pilot_job_last_success_timestamp_seconds{job_id="capacity"}'
        )
        assert 0 <= age[""] < 60

        # Every dashboard query runs on this Prometheus; the capacity, cost and
        # expiry panels show data.
        empty = []
        for expr in dashboard_exprs(DASHBOARD):
            result = prom.query(grafana_to_promql(expr))
            if not result:
                empty.append(expr)
        must_show = ("capacity", "cost_list", "expiry", "job_last_success")
        assert [e for e in empty if any(word in e for word in must_show)] == [], (
            empty,
            serve_log.read_text()[-2000:],
        )
