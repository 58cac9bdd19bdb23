"""Provisioning against the real local OpenStack, checked with the real ``openstack`` CLI."""

from __future__ import annotations

import re
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import Pilot, openstack, small
from sqlmodel import select

from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.models import ProvisionStep


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture
def two(pilot: Pilot):
    a, b = unique("ITA"), unique("ITB")
    pilot.nominate(small(a), small(b))
    yield pilot, a, b
    for pid in (a, b):
        pilot.run("teardown", pid, "--yes")


def project_of(clouds, pilot_id: str) -> dict:
    projects = openstack(
        clouds, "project", "list", "--domain", "ngc-pilots", "--long", "-f", "json"
    )
    matches = [p for p in projects if p["Name"] == f"ngc-{pilot_id.lower()}"]
    assert len(matches) == 1, matches
    return matches[0]


def test_two_tenants_are_exactly_what_the_openstack_cli_sees(two):
    pilot, a, b = two
    result = pilot.json("provision")
    assert [t["state"] for t in result["tenants"]] == ["active", "active"]
    clouds = pilot.clouds
    for pid in (a, b):
        project = project_of(clouds, pid)
        pname = f"ngc-{pid.lower()}"
        networks = openstack(clouds, "network", "list", "--project", project["ID"], "-f", "json")
        assert [n["Name"] for n in networks] == [f"{pname}-net"]
        subnets = openstack(clouds, "subnet", "list", "--project", project["ID"], "-f", "json")
        assert [s["Name"] for s in subnets] == [f"{pname}-subnet"]
        routers = openstack(clouds, "router", "list", "--project", project["ID"], "-f", "json")
        assert [r["Name"] for r in routers] == [f"{pname}-router"]
        router = openstack(clouds, "router", "show", routers[0]["ID"], "-f", "json")
        assert not router.get("external_gateway_info")  # no route out by default
        groups = openstack(
            clouds, "security", "group", "list", "--project", project["ID"], "-f", "json"
        )
        assert sorted(g["Name"] for g in groups) == sorted(["default", f"{pname}-ops-access"])
        for group in groups:
            rules = openstack(
                clouds, "security", "group", "rule", "list", group["ID"], "--ingress", "-f", "json"
            )
            assert all(r["IP Range"] == "10.10.0.0/24" for r in rules), rules
        quota = openstack(clouds, "quota", "show", project["ID"], "-f", "json")
        by_name = {q["Resource"]: q["Limit"] for q in quota} if isinstance(quota, list) else quota
        assert by_name["cores"] == 64 and by_name["instances"] == 10 and by_name["networks"] == 2
        assert by_name["gigabytes"] == 2000 and by_name["floating_ips"] == 0
        folder = pilot.var / "environments" / pid
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in ("clouds.yaml", "README.md", "environment.json"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    subnets = {
        openstack(clouds, "subnet", "show", f"ngc-{p.lower()}-subnet", "-f", "json")["cidr"]
        for p in (a, b)
    }
    assert len(subnets) == 2  # no overlap


def test_secret_is_only_in_the_bundle(two):
    pilot, a, b = two
    provisioned = pilot.run("provision", a)
    assert provisioned.returncode == 0, provisioned.stderr
    bundle = yaml.safe_load((pilot.var / "environments" / a / "clouds.yaml").read_text())
    secret = next(iter(bundle["clouds"].values()))["auth"]["application_credential_secret"]
    assert len(secret) > 20
    assert secret not in provisioned.stdout + provisioned.stderr
    assert secret.encode() not in (pilot.tmp / "ngc.db").read_bytes()
    shown = pilot.run("env", a)
    assert shown.returncode == 0 and secret not in shown.stdout and "***" in shown.stdout


def test_researcher_can_boot_within_quota_and_is_refused_over_it(two):
    pilot, a, _ = two
    assert pilot.run("provision", a).returncode == 0
    bundle = pilot.var / "environments" / a / "clouds.yaml"
    cloud = f"ngc-{a.lower()}"
    images = openstack(bundle, "image", "list", "-f", "json", cloud=cloud)
    assert images, "devcloud ships a public image"
    image = images[0]["ID"]
    ok = openstack(
        bundle,
        "server",
        "create",
        "--flavor",
        "ngc.small",
        "--image",
        image,
        "--network",
        f"{cloud}-net",
        "--security-group",
        f"{cloud}-ops-access",
        "--wait",
        "first-server",
        "-f",
        "json",
        cloud=cloud,
    )
    assert ok["status"] == "ACTIVE"
    refused = openstack(
        bundle,
        "server",
        "create",
        "--flavor",
        "ngc.large",
        "--image",
        image,
        "--network",
        f"{cloud}-net",
        "--min",
        "5",
        "--max",
        "5",
        "too-big",
        cloud=cloud,
        check=False,
    )
    assert refused.returncode != 0 and "quota" in refused.stderr.lower()


def test_tenants_cannot_see_each_other(two):
    pilot, a, b = two
    assert pilot.run("provision").returncode == 0
    result = pilot.run("tenants", "verify", "--json")
    data = yaml.safe_load(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:]
    assert data["isolated"] is True
    probes = data["probes"]
    assert {p["from_pilot"] for p in probes} == {a, b}
    assert {"network", "router", "servers", "volumes", "create project", "list all projects"} <= {
        p["what"] for p in probes
    }


def test_reapply_changes_nothing(two):
    pilot, a, _ = two
    assert pilot.run("provision", a).returncode == 0
    again = pilot.json("provision", a)["tenants"][0]
    assert again["changes"] == [] and again["mutating_calls"] == 0
    assert pilot.json("provision", a, "--plan")[0]["changes"] == []


def test_killed_after_every_step_a_rerun_converges_without_duplicates(pilot: Pilot):
    """A real ``kill -9`` right after each step is recorded in the ledger
    (injected through the ledger's progress callback by ``kill_mid_apply.py``)."""
    pid = unique("ITK")
    pilot.nominate(small(pid))
    planned = pilot.json("provision", pid, "--plan")[0]["changes"]
    steps = len(planned)
    assert steps >= 12
    script = Path(__file__).with_name("kill_mid_apply.py")
    try:
        for _ in range(steps):
            crashed = subprocess.run(
                [sys.executable, str(script), pilot.db, pid],
                capture_output=True,
                text=True,
                cwd=pilot.tmp,
                env=pilot.env(),
                timeout=900,
            )
            if crashed.returncode == 0:
                break  # nothing was left to do
            assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        final = pilot.json("provision", pid)["tenants"][0]
        assert final["state"] == "active"
        assert pilot.json("provision", pid)["tenants"][0]["mutating_calls"] == 0
        clouds = pilot.clouds
        project = project_of(clouds, pid)
        pname = f"ngc-{pid.lower()}"
        for kind, expected in (
            ("network", [f"{pname}-net"]),
            ("subnet", [f"{pname}-subnet"]),
            ("router", [f"{pname}-router"]),
        ):
            names = [
                x["Name"]
                for x in openstack(clouds, kind, "list", "--project", project["ID"], "-f", "json")
            ]
            assert names == expected, (kind, names)
        users = [
            u
            for u in openstack(clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
            if u["Name"] == f"{pid.lower()}@example.org"
        ]
        assert len(users) == 1
        # Every planned step is in the ledger: done, or started when a kill
        # came (a chain running beside the one that was killed; the next run
        # found it done in the cloud and did not repeat it).
        engine = make_engine(pilot.db)
        with session_scope(engine) as session:
            rows = session.exec(select(ProvisionStep).where(ProvisionStep.pilot_id == pid)).all()
        engine.dispose()
        recorded = {r.step for r in rows}
        expected = {f"{c['action']} {c['resource']} {c['name']}" for c in planned}
        if "delete default_group_ingress default" not in recorded:
            # Killed before it ran: a later run, finding the project, planned
            # each of the default group's ingress rules by id instead.
            expected.discard("delete default_group_ingress default")
            assert "delete security_group_rule default" in recorded
        assert expected <= recorded
        done = [r for r in rows if r.status == "done"]
        assert len(done) == len({(r.run_id, r.step, r.resource_id) for r in done})
    finally:
        pilot.run("teardown", pid, "--yes")


def test_teardown_leaves_nothing_and_a_second_teardown_is_a_noop(pilot: Pilot):
    pid = unique("ITT")
    pilot.nominate(small(pid))
    assert pilot.run("provision", pid).returncode == 0
    project_id = project_of(pilot.clouds, pid)["ID"]
    first = pilot.json("teardown", pid, "--yes")
    assert first["clean"] is True and first["leftovers"] == [] and len(first["removed"]) >= 8
    projects = openstack(pilot.clouds, "project", "list", "--domain", "ngc-pilots", "-f", "json")
    assert f"ngc-{pid.lower()}" not in {p["Name"] for p in projects}
    pname = f"ngc-{pid.lower()}"
    for kind, name in (
        ("network", f"{pname}-net"),
        ("subnet", f"{pname}-subnet"),
        ("router", f"{pname}-router"),
    ):
        assert name not in {x["Name"] for x in openstack(pilot.clouds, kind, "list", "-f", "json")}
    ports = openstack(pilot.clouds, "port", "list", "--long", "-f", "json")
    assert not [
        p for p in ports if p.get("Project") == project_id or p.get("project_id") == project_id
    ]
    users = openstack(pilot.clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
    assert f"{pid.lower()}@example.org" not in {u["Name"] for u in users}
    assert not (pilot.var / "environments" / pid).exists()
    second = pilot.json("teardown", pid, "--yes")
    assert second["clean"] is True and second["removed"] == []
    assert pilot.json("tenants")[0]["state"] == "torn_down"


def test_no_tenant_without_a_signed_data_processing_agreement(pilot: Pilot):
    pid = unique("ITD")
    pilot.nominate(small(pid, dpa="in_progress"))
    refused = pilot.run("provision", pid)
    assert refused.returncode == 2
    assert "must be 'signed'" in refused.stderr and pid in refused.stderr
    everyone = pilot.json("provision")
    assert everyone["tenants"] == [] and everyone["waiting_for_agreement"] == [pid]


def test_capacity_overcommit_is_refused_with_the_numbers(pilot: Pilot, tmp_path):
    from policies.tenancy import default_tenant_policy_path

    huge = tmp_path / "sizes.yaml"
    huge.write_text(
        re.sub(r"cores: \d+", "cores: 99999999", default_tenant_policy_path().read_text())
    )
    pid = unique("ITC")
    pilot.nominate(small(pid))
    refused = pilot.run("provision", pid, NGC_PILOT_POLICY__TENANT_FILE=str(huge))
    assert refused.returncode == 2
    assert (
        "cores: tenants' quotas would total" in refused.stderr
        and "over-commit must be allowed explicitly" in refused.stderr
    )
    tenants = pilot.json("tenants")
    assert tenants == [] or tenants[0]["state"] == "planned"


def test_parallel_tenants_race_for_a_new_domain_and_both_converge(pilot: Pilot):
    """Regression (CI, 2026-11-25): on a cloud without the pilots' domain, two
    tenants provisioned in parallel both planned ``create domain``; the loser got
    HTTP 409 and its tenant failed.  A conflict now means "look again"."""
    from policies.tenancy import default_tenant_policy_path

    domain = f"ngc-race-{uuid.uuid4().hex[:8]}"
    tenant_file = pilot.tmp / "tenant_sizes.yaml"
    text = default_tenant_policy_path().read_text()
    assert "domain: ngc-pilots" in text
    tenant_file.write_text(text.replace("domain: ngc-pilots", f"domain: {domain}"))
    a, b = unique("RCA"), unique("RCB")
    pilot.nominate(small(a), small(b))
    extra = {"NGC_PILOT_POLICY__TENANT_FILE": str(tenant_file)}
    try:
        result = pilot.json("provision", "--parallel", "2", **extra)
        assert [t["state"] for t in result["tenants"]] == ["active", "active"]
        created = [t for t in result["tenants"] if f"create domain {domain}" in t["applied"]]
        assert len(created) >= 1
        domains = openstack(pilot.clouds, "domain", "list", "-f", "json")
        assert [d["Name"] for d in domains].count(domain) == 1
    finally:
        for pid in (a, b):
            pilot.run("teardown", pid, "--yes", **extra)
        openstack(pilot.clouds, "domain", "set", "--disable", domain, check=False)
        openstack(pilot.clouds, "domain", "delete", domain, check=False)
