"""Namespace tenants through the services: provision by platform, the researcher's kubeconfig,
verify, the capacity gate, teardown, the tenants listing.

Kubernetes is a private devcloud Kubernetes API emulator per test (``support.kube_emulator``);
OpenStack is ``provisioner.testing.InMemoryCloud`` (the OpenStack half is tested against
devcloud elsewhere; here it only has to be there for pilots with both platforms).
"""

from __future__ import annotations

import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import select
from support.kube_emulator import running_emulator
from support.records import record

from ngc_pilot import audit, intake, migrate, provisioning, selection
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.kube_tenant_models import KubeTenant
from ngc_pilot.models import Tenant
from policies.nomination import Nomination
from policies.selection_policy import default_policy_path, parse_policy
from policies.tenancy import load_tenant_policy
from provisioner.kubernetes.backend import KubernetesBackend
from provisioner.kubernetes.connection import load
from provisioner.testing import InMemoryCloud


def _kubeconfig(path: Path, url: str, token: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": url}}],
                "users": [{"name": "admin", "user": {"token": token}}],
                "contexts": [
                    {"name": "emulator", "context": {"cluster": "emulator", "user": "admin"}}
                ],
                "current-context": "emulator",
            }
        )
    )
    path.chmod(0o600)
    return path


# S-1 notebooks only (kubernetes), S-2 a workflow engine (both), S-3 a database (openstack)
TASKS = {
    "S-1": ["interactive_analysis"],
    "S-2": ["batch_pipeline"],
    "S-3": ["database_service"],
}


@pytest.fixture
def world(database, tmp_path):
    start = date.today() - timedelta(days=3)
    policy = parse_policy(
        default_policy_path()
        .read_text()
        .replace("start: 2021-04-15", f"start: {start}")
        .replace("end: 2021-08-31", f"end: {start + timedelta(days=100)}")
    )
    engine = make_engine(database.url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        noms = [
            intake.SourcedNomination(
                Nomination.model_validate(
                    record(
                        id=pid,
                        institution=pid,
                        principal_investigator={"name": pid, "email": f"{pid}@example.org"},
                        task_types=tasks,
                    ),
                    context={"vocabularies": policy.vocabularies},
                ),
                "test",
            )
            for pid, tasks in TASKS.items()
        ]
        intake.store(session, noms, actor="t", files=["t"])
        proposal = selection.propose(
            session, policy, selection.SelectOptions(k_min=3, k_max=3, explain=False)
        )
        selection.commit(session, proposal, by="t", reason="t", actor="t")
    cloud = InMemoryCloud()
    with running_emulator(tmp_path) as emulator:
        admin = _kubeconfig(tmp_path / "admin-kubeconfig", emulator.url, emulator.admin_token)
        prov = provisioning.Provisioner(
            engine,
            load_tenant_policy(),
            lambda: cloud,
            "test",
            tmp_path / "env",
            "tester",
            kube_backend_factory=lambda: KubernetesBackend(admin),
        )
        yield prov, engine, admin
    engine.dispose()


def _namespaces(admin: Path) -> set[str]:
    cluster = load(admin)
    try:
        return {n.metadata.name for n in cluster.core().list_namespace().items}
    finally:
        cluster.close()


def test_each_pilot_gets_its_platforms_and_a_private_kubeconfig(world):
    prov, engine, admin = world
    outcomes = provisioning.provision(prov)
    got = sorted((o.pilot_id, o.platform, o.state) for o in outcomes)
    assert got == [
        ("S-1", "kubernetes", "active"),
        ("S-2", "kubernetes", "active"),
        ("S-2", "openstack", "active"),
        ("S-3", "openstack", "active"),
    ]
    assert {"ngc-s-1", "ngc-s-2"} <= _namespaces(admin)
    assert "ngc-s-3" not in _namespaces(admin)
    folder = prov.environments_dir / "S-1"
    config = folder / "kubeconfig"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "## Kubernetes" in (folder / "README.md").read_text()
    # S-2 has both: its OpenStack README keeps its text and gains the section
    readme = (prov.environments_dir / "S-2" / "README.md").read_text()
    assert "## Kubernetes" in readme and "clouds.yaml" in readme
    # the researcher's kubeconfig works in its own namespace
    researcher = load(config)
    try:
        assert researcher.core().list_namespaced_pod("ngc-s-1").items == []
    finally:
        researcher.close()
    token = yaml.safe_load(config.read_text())["users"][0]["user"]["token"]
    with session_scope(engine) as session:
        rows = provisioning.all_tenants(session)
        assert [(r["pilot"], r["platform"]) for r in rows] == [
            ("S-1", "kubernetes"),
            ("S-2", "openstack"),
            ("S-2", "kubernetes"),
            ("S-3", "openstack"),
        ]
        assert session.get(KubeTenant, "S-1").token_expires_at is not None
        assert session.get(Tenant, "S-1") is None
        assert all(token not in str(e.details) for e in audit.events(session))
    # a re-run changes nothing: 0 mutating calls
    again = provisioning.provision(prov)
    assert [(o.pilot_id, o.plan) for o in again if o.plan] == []
    assert all(o.mutating_calls == 0 for o in again if o.platform == "kubernetes")


def test_the_operator_override_and_bad_platforms(world):
    prov, engine, admin = world
    outcomes = provisioning.provision(prov, ["S-3"], platform="kubernetes")
    assert [(o.pilot_id, o.platform, o.state) for o in outcomes] == [
        ("S-3", "kubernetes", "active")
    ]
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-3") is None
    with pytest.raises(InputError) as caught:
        provisioning.provision(prov, ["S-1"], platform="vmware")
    assert "vmware" in str(caught.value) and "openstack, kubernetes" in str(caught.value)
    assert "\n" not in str(caught.value)
    prov.kube_backend_factory = None
    with pytest.raises(InputError) as caught:
        provisioning.provision(prov, ["S-1"], platform="kubernetes")
    assert "kubernetes.kubeconfig" in str(caught.value)


def test_verify_probes_every_namespace_with_each_tenants_own_token(world):
    prov, engine, admin = world
    provisioning.provision(prov, ["S-1", "S-2"], platform="kubernetes")
    probes = provisioning.verify(prov)
    kube = [p for p in probes if p.target in ("S-1", "S-2", "cluster")]
    assert {p.from_pilot for p in kube} == {"S-1", "S-2"}
    assert any(p.target == "cluster" for p in kube)
    assert not [p for p in probes if p.leaked]


def test_the_capacity_gate_refuses_with_numbers_unless_overcommit_is_allowed(world):
    prov, engine, admin = world
    # three small namespaces promise 192 cores; the emulator's nodes have 128
    with pytest.raises(InputError) as caught:
        provisioning.provision(prov, platform="kubernetes")
    assert "kubernetes cores" in str(caught.value) and "192" in str(caught.value)
    with session_scope(engine) as session:
        assert session.exec(select(KubeTenant)).all() == []
    assert not {"ngc-s-1", "ngc-s-2", "ngc-s-3"} & _namespaces(admin)
    outcomes = provisioning.provision(prov, platform="kubernetes", allow_overcommit=True)
    assert all(o.state == "active" for o in outcomes) and len(outcomes) == 3


def test_teardown_of_a_namespace_tenant_leaves_nothing(world):
    prov, engine, admin = world
    provisioning.provision(prov, ["S-2"])
    [kube] = provisioning.teardown_pilot(prov, "S-2", platform="kubernetes", reason="t")
    assert kube.as_dict()["clean"] and kube.as_dict()["platform"] == "kubernetes"
    assert "ngc-s-2" not in _namespaces(admin)
    folder = prov.environments_dir / "S-2"
    assert not (folder / "kubeconfig").exists()
    assert "## Kubernetes" not in (folder / "README.md").read_text()
    assert (folder / "clouds.yaml").exists()  # the OpenStack tenant is untouched
    with session_scope(engine) as session:
        assert session.get(KubeTenant, "S-2").state == "torn_down"
        assert session.get(Tenant, "S-2").state == "active"
    # provisioned again: a new namespace and a new token
    again = provisioning.provision(prov, ["S-2"], platform="kubernetes")
    assert [o.state for o in again] == ["active"]
    assert (folder / "kubeconfig").exists()


def test_drift_in_a_namespace_is_reported_once_and_repaired_when_asked(world):
    from ngc_pilot import lifecycle

    prov, engine, admin = world
    provisioning.provision(prov, ["S-1"], platform="kubernetes")
    cluster = load(admin)
    try:
        cluster.networking().delete_namespaced_network_policy("ngc-default-deny", "ngc-s-1")
    finally:
        cluster.close()
    found = lifecycle.reconcile(prov, repair=False).as_dict()["tenants"]
    [entry] = [t for t in found if t["platform"] == "kubernetes"]
    assert entry["pilot"] == "S-1" and entry["drift"] and not entry["repaired"]
    lifecycle.reconcile(prov, repair=False)  # the same drift again: audited once
    with session_scope(engine) as session:
        drift = [e for e in audit.events(session, subject="S-1") if e.action == "tenant.drift"]
        assert len(drift) == 1 and drift[0].details["platform"] == "kubernetes"
    repaired = lifecycle.reconcile(prov, repair=True).as_dict()["tenants"]
    assert [t["repaired"] for t in repaired if t["platform"] == "kubernetes"] == [True]
    clean = lifecycle.reconcile(prov, repair=False).as_dict()["tenants"]
    assert [t["drift"] for t in clean if t["platform"] == "kubernetes"] == [[]]


def test_a_namespace_is_suspended_to_a_zero_quota_then_torn_down_after_the_grace(world):
    from ngc_pilot import lifecycle
    from ngc_pilot.models import Pilot
    from policies.lifecycle import milestones

    prov, engine, admin = world
    provisioning.provision(prov, ["S-1"], platform="kubernetes")
    with session_scope(engine) as session:
        last_day = session.get(Pilot, "S-1").planned_end
    marks = milestones(prov.lifecycle(), last_day)
    report = lifecycle.expire(prov, today=marks.suspend_on).as_dict()
    suspend = [s for s in report["steps"] if s.get("platform") == "kubernetes"]
    assert [(s["pilot"], s["action"], s["ok"]) for s in suspend] == [("S-1", "suspend", True)]
    cluster = load(admin)
    try:
        quotas = cluster.core().list_namespaced_resource_quota("ngc-s-1").items
        assert quotas and all(set(q.spec.hard.values()) == {"0"} for q in quotas)
    finally:
        cluster.close()
    with session_scope(engine) as session:
        row = session.get(KubeTenant, "S-1")
        assert row.state == "suspended" and row.suspended_at is not None
    # suspension is the desired state now: no drift; a second run does nothing
    clean = lifecycle.reconcile(prov, repair=False).as_dict()["tenants"]
    assert [t["drift"] for t in clean if t["platform"] == "kubernetes"] == [[]]
    again = lifecycle.expire(prov, today=marks.suspend_on).as_dict()
    assert not [s for s in again["steps"] if s.get("platform") == "kubernetes"]
    final = lifecycle.expire(prov, today=marks.teardown_on).as_dict()
    teardown = [s for s in final["steps"] if s.get("platform") == "kubernetes"]
    assert [(s["action"], s["ok"]) for s in teardown] == [("teardown", True)]
    assert "ngc-s-1" not in _namespaces(admin)
    with session_scope(engine) as session:
        assert session.get(KubeTenant, "S-1").state == "torn_down"


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["true"],
                    "resources": {
                        "requests": {"cpu": "2", "memory": "4Gi"},
                        "limits": {"cpu": "2", "memory": "4Gi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def test_a_pod_run_through_the_researchers_kubeconfig_is_metered_and_a_rerun_is_identical(world):
    from datetime import UTC, datetime
    from decimal import Decimal

    from ngc_pilot import metering
    from ngc_pilot.models import UsageRecord
    from ngc_pilot.settings import MeteringSettings

    prov, engine, admin = world
    provisioning.provision(prov, ["S-1"], platform="kubernetes")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with session_scope(engine) as session:  # the tenant has existed for three hours
        row = session.get(KubeTenant, "S-1")
        row.created_at = hour - timedelta(hours=3)
        session.add(row)
    researcher = load(prov.environments_dir / "S-1" / "kubeconfig")
    try:
        researcher.core().create_namespaced_pod("ngc-s-1", _pod("work"))
    finally:
        researcher.close()
    cluster = load(admin)
    try:  # it ran from 2:30 to 1:30 before the hour (the emulator runs no container)
        began = hour - timedelta(hours=2, minutes=30)
        cluster.core().patch_namespaced_pod_status(
            "work",
            "ngc-s-1",
            {"status": {"startTime": began.isoformat(), "phase": "Succeeded"}},
            _content_type="application/merge-patch+json",
        )
    finally:
        cluster.close()
    settings = MeteringSettings(window_minutes=60)
    since = hour - timedelta(hours=3)
    first = metering.meter(prov, settings, since=since, until=hour - timedelta(minutes=1))
    assert first.records_new > 0
    with session_scope(engine) as session:
        rows = session.exec(select(UsageRecord).where(UsageRecord.pilot_id == "S-1")).all()
        assert {r.source for r in rows} == {"kubernetes"}
        vcpu = sum((r.quantity for r in rows if r.metric == "vcpu_hours"), Decimal(0))
        assert vcpu == Decimal("5")  # 2 cpu for the 2.5 metered hours it ran
        assert {r.metric for r in rows} == {
            "vcpu_hours",
            "ram_gb_hours",
            "gpu_hours",
            "volume_gb_hours",
        }
    again = metering.meter(prov, settings, since=since, until=hour - timedelta(minutes=1))
    assert again.records_new == again.records_changed == 0 and again.records_unchanged > 0


def test_metrics_label_each_tenant_with_its_platform(world):
    from prometheus_client import generate_latest

    from ngc_pilot.metrics import registry_for

    prov, engine, admin = world
    provisioning.provision(prov, ["S-2"])
    text = generate_latest(registry_for(engine, prov.tenant_policy)).decode()
    for platform in ("openstack", "kubernetes"):
        assert (
            f'ngc_pilot_tenant_state{{pilot="S-2",platform="{platform}",state="active"}} 1' in text
        )
        assert f'ngc_pilot_tenant_quota_vcpus{{pilot="S-2",platform="{platform}"}}' in text


def _services(prov, engine):
    from ngc_pilot.facade import Services
    from policies.selection_policy import load_policy

    return Services(
        engine=engine,
        policy=load_policy(default_policy_path()),
        actor="tester",
        provisioner=lambda: prov,
    )


def test_plan_shows_the_namespace_changes_and_changes_nothing(world):
    prov, engine, admin = world
    with session_scope(engine) as session:
        events = len(audit.events(session))
    planned = provisioning.plan_pilots(prov)
    got = [(o.pilot_id, o.platform, o.state) for o in planned]
    assert got == [
        ("S-1", "kubernetes", "planned"),
        ("S-2", "openstack", "planned"),
        ("S-2", "kubernetes", "planned"),
        ("S-3", "openstack", "planned"),
    ]
    [s1] = [o for o in planned if o.pilot_id == "S-1"]
    resources = {c["resource"] for c in s1.plan}
    assert {c["action"] for c in s1.plan} == {"create"}
    assert any("namespace" in r for r in resources) and any("quota" in r for r in resources)
    # --platform narrows the plan; an OpenStack-only pilot can be planned as a namespace
    only = provisioning.plan_pilots(prov, ["S-3"], platform="kubernetes")
    assert [(o.pilot_id, o.platform) for o in only] == [("S-3", "kubernetes")]
    # nothing was written or created
    assert not {"ngc-s-1", "ngc-s-2", "ngc-s-3"} & _namespaces(admin)
    with session_scope(engine) as session:
        assert session.exec(select(KubeTenant)).all() == []
        assert len(audit.events(session)) == events
    # once provisioned, the namespace's plan is empty
    provisioning.provision(prov, ["S-1"])
    [again] = provisioning.plan_pilots(prov, ["S-1"])
    assert (again.platform, again.state, again.plan) == ("kubernetes", "active", [])
    with pytest.raises(InputError) as caught:
        provisioning.plan_pilots(prov, ["S-1"], platform="vmware")
    assert "vmware" in str(caught.value)


def test_the_tui_facade_plans_shows_and_tears_down_a_namespace_only_tenant(world):
    prov, engine, admin = world
    services = _services(prov, engine)
    view = services.plan("S-1")
    assert view.changes and {c["platform"] for c in view.changes} == {"kubernetes"}
    provisioning.provision(prov, ["S-1", "S-2"])
    assert services.plan("S-1").changes == ()
    detail = services.tenant_detail("S-1")
    assert detail.tenant["platform"] == "kubernetes" and detail.tenant["project"] == "ngc-s-1"
    assert detail.quotas["services.nodeports"] == "0" and detail.steps
    assert [r.platforms for r in services.tenants().rows if r.pilot_id == "S-1"] == ["kubernetes"]
    # teardown from the Tenants screen removes the namespace
    done = services.teardown("S-1").as_dict()
    assert done["clean"] and done["platform"] == "kubernetes" and done["removed"]
    assert "ngc-s-1" not in _namespaces(admin)
    # a pilot with both: both go, the namespace first
    both = services.teardown("S-2").as_dict()
    assert both["clean"] and both["platform"] == "kubernetes+openstack"
    # with its OpenStack tenant torn down, the screen shows the namespace that remains
    provisioning.provision(prov, ["S-2"])
    provisioning.teardown_pilot(prov, "S-2", platform="openstack", reason="t")
    [row] = [r for r in services.tenants().rows if r.pilot_id == "S-2"]
    assert (row.tenant_state, row.platforms, row.project) == ("active", "kubernetes", "ngc-s-2")
    both = services.teardown("S-2").as_dict()
    assert both["clean"] and both["platform"] == "kubernetes+openstack"
    with session_scope(engine) as session:
        assert session.get(KubeTenant, "S-2").state == "torn_down"
        assert session.get(Tenant, "S-2").state == "torn_down"
    assert [p for p in services.verify() if p.leaked] == []


def test_the_cli_plan_shows_namespace_changes_and_a_bad_kubeconfig_is_one_line(
    world, database, capsys, monkeypatch
):
    import json

    from ngc_pilot.cli.main import run

    prov, engine, admin = world
    monkeypatch.setenv("NGC_PILOT_KUBERNETES__KUBECONFIG", str(admin))
    monkeypatch.setenv("NGC_PILOT_PROVISIONING__ENVIRONMENTS_DIR", str(prov.environments_dir))
    base = ["--db", database.url, "--actor", "tester"]
    capsys.readouterr()
    assert run([*base, "provision", "--plan", "--platform", "kubernetes", "S-1", "--json"]) == 0
    [planned] = json.loads(capsys.readouterr().out)
    assert (planned["pilot"], planned["platform"], planned["state"]) == (
        "S-1",
        "kubernetes",
        "planned",
    )
    assert planned["changes"] and {c["action"] for c in planned["changes"]} == {"create"}
    assert run([*base, "provision", "--plan", "S-1"]) == 0
    out = capsys.readouterr().out
    assert "S-1 kubernetes (planned)" in out and "ngc-s-1" in out
    assert "ngc-s-1" not in _namespaces(admin)
    # sizes that do not fit the nodes: one line naming the numbers; nothing changes
    assert run([*base, "provision", "--platform", "kubernetes"]) == 2
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if "kubernetes cores" in x]
    assert "192" in line and "128" in line and "over-commit" in line
    # an unknown platform, also with --plan: one line naming it and what is allowed
    assert run([*base, "provision", "--plan", "--platform", "vmware"]) == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if "vmware" in x]
    assert len(lines) == 1 and "openstack, kubernetes" in lines[0]
    assert not {"ngc-s-1", "ngc-s-2", "ngc-s-3"} & _namespaces(admin)
    # a kubeconfig that does not load: one line naming the file; nothing changes
    bad = admin.parent / "broken-kubeconfig"
    bad.write_text("this: [is not a kubeconfig\n")
    monkeypatch.setenv("NGC_PILOT_KUBERNETES__KUBECONFIG", str(bad))
    for command in (["provision", "--plan", "S-1"], ["provision", "S-1"]):
        assert run([*base, *command]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if str(bad) in line]
        assert len(lines) == 1 and "kubernetes.kubeconfig" in lines[0], lines
    with session_scope(engine) as session:
        assert session.exec(select(KubeTenant)).all() == []
        assert session.exec(select(Tenant)).all() == []


def test_a_namespace_only_pilot_gets_its_notices_a_final_invoice_and_its_teardown(world):
    """S-1 has only a namespace: the expiry notice, the suspension (zero quota) and its
    notice, then after the grace period the final invoice before the teardown, and the
    torn-down notice — as a pilot with an OpenStack project gets them."""
    from ngc_pilot import lifecycle
    from ngc_pilot.models import Invoice, OutboxMessage, Pilot
    from policies.lifecycle import milestones

    prov, engine, admin = world
    provisioning.provision(prov, ["S-1"], platform="kubernetes")
    with session_scope(engine) as session:
        last_day = session.get(Pilot, "S-1").planned_end
    marks = milestones(prov.lifecycle(), last_day)

    def kinds() -> list[str]:
        with session_scope(engine) as session:
            return sorted(
                m.kind
                for m in session.exec(
                    select(OutboxMessage).where(OutboxMessage.pilot_id == "S-1")
                ).all()
            )

    notice = lifecycle.expire(prov, today=last_day - timedelta(days=7)).as_dict()
    assert [(s["pilot"], s["action"]) for s in notice["steps"]] == [("S-1", "notice")]
    assert kinds() == ["expiry-7d"]
    lifecycle.expire(prov, today=last_day - timedelta(days=7))  # once only
    assert kinds() == ["expiry-7d"]
    with session_scope(engine) as session:
        [message] = session.exec(select(OutboxMessage)).all()
        assert "ngc-s-1" in message.body and message.recipient == "S-1@example.org"

    suspended = lifecycle.expire(prov, today=marks.suspend_on).as_dict()
    assert [(s["action"], s["ok"]) for s in suspended["steps"]] == [("suspend", True)]
    assert kinds() == ["expiry-7d", "suspended"]
    lifecycle.expire(prov, today=marks.suspend_on)
    assert kinds() == ["expiry-7d", "suspended"]

    final = lifecycle.expire(prov, today=marks.teardown_on).as_dict()
    assert [(s["action"], s["ok"]) for s in final["steps"]] == [
        ("final_invoice", True),
        ("teardown", True),
    ]
    assert kinds() == ["expiry-7d", "suspended", "torn_down"]
    assert "ngc-s-1" not in _namespaces(admin)
    with session_scope(engine) as session:
        invoices = session.exec(select(Invoice).where(Invoice.pilot_id == "S-1")).all()
        assert invoices and all(i.final for i in invoices)
        assert session.get(KubeTenant, "S-1").state == "torn_down"
    # S-2 has both platforms: its notices are the OpenStack rules' only
    assert not [s for s in final["steps"] if s["pilot"] == "S-2"]


def test_a_namespace_only_tenants_metered_use_is_invoiced_and_shown(world):
    """A pod's metered use in S-1's namespace is priced by the price list on S-1's invoice
    (with the monthly base fee, as a project's), and `usage S-1` and the usage month show it."""
    from datetime import UTC, datetime

    from ngc_pilot import billing, metering
    from ngc_pilot.settings import MeteringSettings
    from policies.prices import load_prices

    prov, engine, admin = world
    provisioning.provision(prov, ["S-1"], platform="kubernetes")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with session_scope(engine) as session:
        row = session.get(KubeTenant, "S-1")
        row.created_at = hour - timedelta(hours=3)
        session.add(row)
    researcher = load(prov.environments_dir / "S-1" / "kubeconfig")
    try:
        researcher.core().create_namespaced_pod("ngc-s-1", _pod("work"))
    finally:
        researcher.close()
    metering.meter(
        prov,
        MeteringSettings(window_minutes=60),
        since=hour - timedelta(hours=3),
        until=hour - timedelta(minutes=1),
    )
    month = (hour - timedelta(hours=2)).strftime("%Y-%m")
    services = _services(prov, engine)
    assert any(r["pilot"] == "S-1" for r in services.usage_rows("S-1"))
    [doc] = billing.rate_month(engine, load_prices(), month, actor="t", pilot_ids=["S-1"])
    assert doc.pilot_id == "S-1" and doc.project == "ngc-s-1"
    units = {line.item for line in doc.lines}
    assert "vcpu_hours" in units and "base_fee" in units, units
    shown = services.usage_month(month)
    assert [t.tenant_state for t in shown.tenants if t.pilot_id == "S-1"] == ["active"]
    # the PI's monthly statement is queued for it, naming the namespace
    from ngc_pilot.mail.statement import queue_statements
    from ngc_pilot.models import OutboxMessage

    queue_statements(engine, month, actor="t")
    with session_scope(engine) as session:
        [statement] = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.pilot_id == "S-1", OutboxMessage.kind == "statement"
            )
        ).all()
        assert statement.recipient == "S-1@example.org"
