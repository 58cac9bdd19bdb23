"""Drift, expiry and the data-access switch against the real local OpenStack.

ngc-pilot runs as a separate process (``Pilot``); the real ``openstack`` CLI
makes the drift and checks every effect.  Each test provisions its own small
tenant with its own database, so the date rules of one test (``--today``)
never reach another test's tenant.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import Pilot, failure_summary, openstack, small

DATA_ROLE = "ngc-data-access"
OPS_CIDR = "10.10.0.0/24"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture
def tenant(pilot: Pilot):
    """One provisioned small tenant: (pilot, pilot id, project id, project name); its
    nomination names the national genome data, so it may get data access."""
    pid = unique("ILC")
    pilot.nominate(small(pid, data__sources=["national_genome_center"]))
    provisioned = pilot.run("provision", pid, "--json")
    assert provisioned.returncode == 0, failure_summary(provisioned)
    projects = openstack(pilot.clouds, "project", "list", "--domain", "ngc-pilots", "-f", "json")
    [project] = [p for p in projects if p["Name"] == f"ngc-{pid.lower()}"]
    yield pilot, pid, project["ID"], project["Name"]
    pilot.run("teardown", pid, "--yes")


def quotas(clouds, project_id: str) -> dict[str, Any]:
    shown = openstack(clouds, "quota", "show", project_id, "-f", "json")
    return {q["Resource"]: q["Limit"] for q in shown} if isinstance(shown, list) else shown


def ops_rules(clouds, project_id: str, pname: str) -> list[dict[str, Any]]:
    groups = openstack(clouds, "security", "group", "list", "--project", project_id, "-f", "json")
    [ops] = [g for g in groups if g["Name"] == f"{pname}-ops-access"]
    return openstack(
        clouds, "security", "group", "rule", "list", ops["ID"], "--ingress", "-f", "json"
    )


def drift_of(report: dict[str, Any], pid: str) -> list[dict[str, Any]]:
    [entry] = [t for t in report["tenants"] if t["pilot"] == pid]
    return entry["drift"]


def test_reconcile_reports_exactly_the_drift_made_with_the_cli_and_repair_fixes_it(tenant):
    pilot, pid, project_id, pname = tenant
    clouds = pilot.clouds
    assert drift_of(pilot.json("tenants", "reconcile"), pid) == []

    openstack(clouds, "quota", "set", "--cores", "5", project_id)
    [rule] = [r for r in ops_rules(clouds, project_id, pname) if r["Port Range"] == "22:22"]
    openstack(clouds, "security", "group", "rule", "delete", rule["ID"])

    report = pilot.json("tenants", "reconcile")
    assert report["repair"] is False
    assert drift_of(report, pid) == [
        {"action": "update", "resource": "compute_quota", "name": pname, "detail": {"cores": 64}},
        {
            "action": "create",
            "resource": "security_group_rule",
            "name": f"{pname}-ops-access",
            "detail": {"protocol": "tcp", "port_min": 22, "port_max": 22, "remote_cidr": OPS_CIDR},
        },
    ]
    assert quotas(clouds, project_id)["cores"] == 5  # report only: nothing changed
    assert ops_rules(clouds, project_id, pname) == []

    repaired = pilot.json("tenants", "reconcile", "--repair")
    [entry] = [t for t in repaired["tenants"] if t["pilot"] == pid]
    # The two repairs are in different chains (quotas, network), which run at
    # once: ``applied`` is in the order they finished, so compared as a set.
    assert entry["repaired"] is True and sorted(entry["applied"]) == [
        f"create security_group_rule {pname}-ops-access",
        f"update compute_quota {pname}",
    ]
    assert quotas(clouds, project_id)["cores"] == 64
    [back] = ops_rules(clouds, project_id, pname)
    assert (back["Port Range"], back["IP Range"], back["IP Protocol"]) == ("22:22", OPS_CIDR, "tcp")
    assert drift_of(pilot.json("tenants", "reconcile"), pid) == []
    actions = [e["action"] for e in pilot.json("audit", "--subject", pid)]
    assert actions.count("tenant.drift") == 1 and actions.count("tenant.repaired") == 1


def test_data_access_switch_grants_the_role_the_cli_then_sees(tenant, tmp_path):
    pilot, pid, project_id, pname = tenant
    clouds = pilot.clouds

    def assignments() -> list[tuple[str, str]]:
        rows = openstack(
            clouds, "role", "assignment", "list", "--project", project_id, "--names", "-f", "json"
        )
        return sorted((r["Role"], r["Group"]) for r in rows if r["Group"])

    # A role Keystone does not have is refused, and nothing changes.
    from policies.lifecycle import default_lifecycle_policy_path

    absent = f"ngc-absent-{uuid.uuid4().hex[:8]}"
    policy = tmp_path / "lifecycle.yaml"
    policy.write_text(
        default_lifecycle_policy_path().read_text().replace(f"role: {DATA_ROLE}", f"role: {absent}")
    )
    before = assignments()
    refused = pilot.run(
        "tenants", "data-access", "--json", NGC_PILOT_POLICY__LIFECYCLE_FILE=str(policy)
    )
    assert refused.returncode == 1
    assert f"the Keystone role '{absent}' does not exist" in refused.stdout
    assert f"openstack role create {absent}" in refused.stdout
    assert assignments() == before

    # Creating the role is operations' job; here the test is operations.
    if openstack(clouds, "role", "show", DATA_ROLE, check=False).returncode != 0:
        openstack(clouds, "role", "create", DATA_ROLE, check=False)  # a parallel run may win
        openstack(clouds, "role", "show", DATA_ROLE)

    early = pilot.json("tenants", "data-access", "--today", "2021-05-31")
    assert early["due"] is False and early["tenants"] == []
    assert assignments() == before

    # Given by hand before the switch: drift, and a repair takes it away.
    group = f"{pname}-members"
    openstack(
        clouds,
        "role",
        "add",
        "--group",
        group,
        "--group-domain",
        "ngc-pilots",
        "--project",
        project_id,
        DATA_ROLE,
    )
    assert drift_of(pilot.json("tenants", "reconcile"), pid) == [
        {
            "action": "delete",
            "resource": "role_assignment",
            "name": DATA_ROLE,
            "detail": {
                "role": DATA_ROLE,
                "group": group,
                "why": "data access has not been granted to this tenant",
            },
        }
    ]
    pilot.json("tenants", "reconcile", "--repair")
    assert assignments() == before

    today = date.today().isoformat()
    granted = pilot.json("tenants", "data-access", "--today", today)
    assert [(t["pilot"], t["granted"], t["applied"]) for t in granted["tenants"]] == [
        (pid, True, [f"create role_assignment {DATA_ROLE}"])
    ]
    assert (DATA_ROLE, f"{pname}-members@ngc-pilots") in assignments()
    assert pilot.json("tenants", "data-access", "--today", today)["tenants"] == []
    assert drift_of(pilot.json("tenants", "reconcile"), pid) == []
    [event] = pilot.json("audit", "--action", "tenant.data_access_granted", "--subject", pid)
    assert event["details"]["today"] == today and event["details"]["today_given"] is True


def test_expiry_notice_once_then_suspension_then_final_invoice_and_teardown(tenant):
    pilot, pid, project_id, pname = tenant
    clouds = pilot.clouds
    [row] = [t for t in pilot.json("tenants") if t["pilot"] == pid]
    last_day = date.fromisoformat(row["planned_end"])

    # A researcher's server, so that the suspension zeroes quotas below usage.
    bundle = pilot.var / "environments" / pid / "clouds.yaml"
    image = openstack(bundle, "image", "list", "-f", "json", cloud=pname)[0]["ID"]
    server = openstack(
        bundle,
        "server",
        "create",
        "--flavor",
        "ngc.small",
        "--image",
        image,
        "--network",
        f"{pname}-net",
        "--wait",
        "analysis-1",
        "-f",
        "json",
        cloud=pname,
    )
    assert server["status"] == "ACTIVE"

    # 14 days before the last day: one notice, however often the job runs.
    day = str(last_day - timedelta(days=14))
    first = pilot.json("tenants", "expire", "--today", day)
    assert [(s["action"], s["days"]) for s in first["steps"]] == [("notice", 14)]
    assert pilot.json("tenants", "expire", "--today", day)["steps"] == []
    ready, notice = pilot.json("outbox")
    assert ready["key"] == f"tenant-ready:{pid}"  # queued when provisioning finished
    assert notice["key"] == f"expiry-14d:{pid}:{last_day}"
    assert (
        notice["recipient"] == f"{pid.lower()}@example.org" and str(last_day) in notice["subject"]
    )

    # The day after the last day: suspended — what the openstack CLI shows.
    suspended = pilot.json("tenants", "expire", "--today", str(last_day + timedelta(days=1)))
    assert [(s["action"], s["ok"]) for s in suspended["steps"]] == [("suspend", True)]
    project = openstack(clouds, "project", "show", project_id, "-f", "json")
    assert project["enabled"] is False
    limits = quotas(clouds, project_id)
    assert {k: limits[k] for k in ("cores", "ram", "instances", "volumes", "gigabytes")} == {
        "cores": 0,
        "ram": 0,
        "instances": 0,
        "volumes": 0,
        "gigabytes": 0,
    }
    token = openstack(bundle, "token", "issue", "-f", "json", cloud=pname, check=False)
    assert token.returncode != 0, "the application credential still gets a token"
    servers = openstack(
        clouds, "server", "list", "--all-projects", "--project", project_id, "-f", "json"
    )
    assert [s["Name"] for s in servers] == ["analysis-1"]  # suspension deletes nothing
    [row] = [t for t in pilot.json("tenants") if t["pilot"] == pid]
    assert row["state"] == "suspended"
    assert drift_of(pilot.json("tenants", "reconcile"), pid) == []  # suspended is desired

    # After the grace period: the final invoice, then nothing of the tenant is left.
    end = last_day + timedelta(days=31)
    final = pilot.json("tenants", "expire", "--today", str(end))
    assert [(s["action"], s["ok"], s["error"]) for s in final["steps"]] == [
        ("final_invoice", True, None),
        ("teardown", True, None),
    ]
    months = final["steps"][0]["months"]
    assert months[-1] == f"{end:%Y-%m}"
    for month in (months[0], months[-1]):
        shown = pilot.json("invoice", "--month", month, "--tenant", pid, "--no-rate")
        [invoice] = shown["invoices"]
        assert (invoice["pilot"], invoice["month"], invoice["final"]) == (pid, month, True)
    projects = openstack(clouds, "project", "list", "--domain", "ngc-pilots", "-f", "json")
    assert pname not in {p["Name"] for p in projects}
    leftover = openstack(clouds, "server", "list", "--all-projects", "-f", "json")
    assert server["id"] not in {s["ID"] for s in leftover}
    [row] = [t for t in pilot.json("tenants") if t["pilot"] == pid]
    assert row["state"] == "torn_down"
    assert pilot.json("tenants", "expire", "--today", str(end))["steps"] == []
