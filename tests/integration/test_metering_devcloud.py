"""Metering against devcloud: real servers, a real volume, real elapsed windows.

One tenant is provisioned; as its researcher (the application credential in
its bundle) the test boots an ``ngc.small`` and an ``ngc.gpu.1`` server and
creates a volume, while ``ngc-pilot meter`` (one-minute windows) runs its
first cycle.  Then no cycle runs for two windows (simulated downtime), then
one does, and once more over the same span.  The stored records are compared with what
Nova itself says for each window — through the raw compute API with a token
from the ``openstack`` CLI, not through openstacksdk — and with the volume's
size × its lifetime in the window.  The tenant is torn down at the end.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import Pilot, openstack, small
from sqlmodel import col, select

from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import MeterWindow, Tenant, UsageRecord

# one worker runs the whole module under `pytest -n`: its module-scoped fixture is set up once
pytestmark = pytest.mark.xdist_group("test_metering_devcloud")

MINUTE = {"NGC_PILOT_METERING__WINDOW_MINUTES": "1"}
EXACT = Decimal("0.000001")  # the records' scale; Nova's numbers are floats
VOLUME_GB = 2


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class Nova:
    """The compute API itself, with a token issued by the ``openstack`` CLI."""

    def __init__(self, clouds):
        self.token = openstack(clouds, "token", "issue", "-f", "json")["id"]
        [endpoint] = openstack(
            clouds,
            "endpoint",
            "list",
            "--service",
            "compute",
            "--interface",
            "public",
            "-f",
            "json",
        )
        self.url = endpoint["URL"].rstrip("/")

    def usage(self, project_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        fmt = "%Y-%m-%dT%H:%M:%S"
        request = urllib.request.Request(
            f"{self.url}/os-simple-tenant-usage/{project_id}"
            f"?start={start.strftime(fmt)}&end={end.strftime(fmt)}",
            headers={"X-Auth-Token": self.token, "OpenStack-API-Version": "compute 2.40"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read(), parse_float=Decimal)["tenant_usage"]


def _records(db_url: str) -> list[tuple]:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return [
                (
                    r.id,
                    r.pilot_id,
                    r.metric,
                    r.window_start,
                    r.window_end,
                    r.quantity,
                    r.collected_at,
                )
                for r in session.exec(
                    select(UsageRecord).order_by(
                        col(UsageRecord.window_start), col(UsageRecord.metric)
                    )
                ).all()
            ]
    finally:
        engine.dispose()


def _windows(db_url: str) -> list[tuple[datetime, datetime]]:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return [
                (w.window_start, w.window_end)
                for w in session.exec(select(MeterWindow).order_by(col(MeterWindow.window_start)))
            ]
    finally:
        engine.dispose()


def _tenant_created(db_url: str, pid: str) -> datetime:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return session.get(Tenant, pid).created_at
    finally:
        engine.dispose()


def _wait_for_volume(bundle, cloud: str, name: str) -> dict[str, Any]:
    for _ in range(60):
        volume = openstack(bundle, "volume", "show", name, "-f", "json", cloud=cloud)
        if volume["status"] == "available":
            return volume
        assert volume["status"] in ("creating", "downloading"), volume["status"]
        time.sleep(1)
    raise AssertionError(f"volume {name} did not become available")


@pytest.fixture(scope="module")
def metered(devcloud, tmp_path_factory):
    """Set up, meter, skip cycles, meter again, re-run; returns everything observed."""
    tmp = tmp_path_factory.mktemp("metering")
    pilot = Pilot(tmp, devcloud, f"sqlite:///{tmp / 'ngc.db'}")
    pid = f"ITM{uuid.uuid4().hex[:6].upper()}"
    pilot.nominate(small(pid))
    try:
        provisioned = pilot.json("provision", pid)
        assert provisioned["tenants"][0]["state"] == "active", provisioned
        [tenant] = pilot.json("tenants")
        bundle = pilot.var / "environments" / pid / "clouds.yaml"
        cloud = f"ngc-{pid.lower()}"

        def boot(name: str, flavor: str) -> dict[str, Any]:
            return openstack(
                bundle,
                "server",
                "create",
                "--flavor",
                flavor,
                "--image",
                "devcloud-tiny",
                "--network",
                f"{cloud}-net",
                "--wait",
                name,
                "-f",
                "json",
                cloud=cloud,
            )

        def volume() -> dict[str, Any]:
            openstack(
                bundle,
                "volume",
                "create",
                "--size",
                str(VOLUME_GB),
                "data-1",
                "-f",
                "json",
                cloud=cloud,
            )
            return _wait_for_volume(bundle, cloud, "data-1")

        # The researcher's servers and volume come up while cycle 1 runs; the
        # windows before they exist are metered too (as zero).
        with ThreadPoolExecutor(max_workers=3) as pool:
            cpu = pool.submit(boot, "cpu-1", "ngc.small")
            gpu = pool.submit(boot, "gpu-1", "ngc.gpu.1")
            data = pool.submit(volume)
            # cycle 1, as soon as one window has ended since the tenant row appeared
            created = _tenant_created(pilot.db, pid)
            while _floor_minute(datetime.now(UTC)) <= _floor_minute(created):
                time.sleep(1)
            first = pilot.json("meter", **MINUTE)
            assert cpu.result()["status"] == gpu.result()["status"] == "ACTIVE"
            volume_shown = data.result()
        assert first["windows_metered"] >= 1, first
        first_end = _utc(first["windows"][-1]["end"])

        # downtime: the cycles due at the end of the next two windows do not run
        resume = first_end + timedelta(minutes=3, seconds=2)
        time.sleep(max(0.0, (resume - datetime.now(UTC)).total_seconds()))
        second = pilot.json("meter", **MINUTE)

        before = _records(pilot.db)
        covered = _windows(pilot.db)
        rerun = pilot.json(
            "meter",
            "--since",
            covered[0][0].isoformat(),
            "--until",
            covered[-1][1].isoformat(),
            **MINUTE,
        )
        after = _records(pilot.db)
        yield {
            "pilot": pilot,
            "pid": pid,
            "project_id": tenant["project_id"],
            "first": first,
            "second": second,
            "rerun": rerun,
            "before": before,
            "after": after,
            "covered": covered,
            "volume": volume_shown,
            "nova": Nova(devcloud),
        }
    finally:
        pilot.run("teardown", pid, "--yes")


def _by_window(rows: list[tuple], metric: str) -> dict[datetime, Decimal]:
    return {r[3]: r[5] for r in rows if r[2] == metric}


def test_downtime_is_backfilled_without_a_gap(metered):
    first, second = metered["first"], metered["second"]
    assert all(w["kind"] != "recompute" for w in first["windows"])
    new = [w for w in second["windows"] if w["kind"] != "recompute"]
    assert new[0]["start"] == first["windows"][-1]["end"]  # continues where cycle 1 stopped
    assert len(new) >= 3 and second["backfilled"] == len(new) - 1
    assert [w["kind"] for w in new] == ["backfill"] * (len(new) - 1) + ["new"]
    assert second["recomputed"] == min(3, first["windows_metered"])
    covered = metered["covered"]
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))  # contiguous
    assert all(end - start == timedelta(minutes=1) for start, end in covered)


def test_a_rerun_of_the_same_windows_leaves_the_records_identical(metered):
    rerun = metered["rerun"]
    assert rerun["windows_metered"] == len(metered["covered"])
    assert rerun["recomputed"] == len(metered["covered"]) and rerun["records_written"] == 0
    assert metered["after"] == metered["before"]
    assert len(metered["before"]) == 5 * len(metered["covered"])  # zero rows included


def test_vcpu_ram_and_disk_hours_match_what_nova_reports_for_each_window(metered):
    rows, nova, project = metered["after"], metered["nova"], metered["project_id"]
    vcpu, ram, disk = (_by_window(rows, m) for m in ("vcpu_hours", "ram_gb_hours", "disk_gb_hours"))
    running = 0
    for start, end in metered["covered"]:
        reported = nova.usage(project, start, end)
        expected_vcpu = Decimal(reported.get("total_vcpus_usage", 0))
        assert abs(vcpu[start] - expected_vcpu) <= EXACT, (start, vcpu[start], expected_vcpu)
        expected_ram = Decimal(reported.get("total_memory_mb_usage", 0)) / 1024
        assert abs(ram[start] - expected_ram) <= EXACT
        assert abs(disk[start] - Decimal(reported.get("total_local_gb_usage", 0))) <= EXACT
        running += expected_vcpu > 0
    assert running >= 2  # the servers ran through several metered windows
    # a full window of both servers: (2 + 8) vCPUs for one minute
    assert max(vcpu.values()) == (Decimal(10) / 60).quantize(EXACT)


def test_gpu_hours_count_the_gpu_server_only(metered):
    rows, nova, project = metered["after"], metered["nova"], metered["project_id"]
    gpu = _by_window(rows, "gpu_hours")
    assert any(q > 0 for q in gpu.values())
    for start, end in metered["covered"]:
        servers = nova.usage(project, start, end).get("server_usages", [])
        gpu_server = sum(Decimal(s["hours"]) for s in servers if s["flavor"] == "ngc.gpu.1")
        assert abs(gpu[start] - gpu_server) <= EXACT, (start, gpu[start], gpu_server)
    full = [
        start for start, _ in metered["covered"] if gpu[start] == (Decimal(1) / 60).quantize(EXACT)
    ]
    assert full, "no window with a full minute of the GPU server"
    cpu_server = sum(
        Decimal(s["hours"])
        for s in nova.usage(project, full[0], full[0] + timedelta(minutes=1))["server_usages"]
        if s["flavor"] == "ngc.small"
    )
    assert cpu_server > 0  # the small server ran too, and added no GPU-hours


def test_volume_gb_hours_are_size_times_the_time_it_existed_in_each_window(metered):
    volume_hours = _by_window(metered["after"], "volume_gb_hours")
    created = _utc(metered["volume"]["created_at"])
    assert int(metered["volume"]["size"]) == VOLUME_GB
    for start, end in metered["covered"]:
        inside = max(timedelta(0), end - max(start, created))
        expected = (VOLUME_GB * Decimal(inside.total_seconds()) / 3600).quantize(EXACT)
        assert volume_hours[start] == expected, (start, volume_hours[start], expected)
    assert any(q > 0 for q in volume_hours.values())
