"""The provisioning service's own logic: ledger, audit, bundle, gates, recovery.

Cloud behaviour is tested against the real devcloud in tests/integration.  Here
the cloud is ``provisioner.testing.InMemoryCloud`` because these tests need a
cloud that drops a connection right after a create succeeded — which a real
OpenStack cannot be made to do on cue.
"""

from __future__ import annotations

import json
import stat
from datetime import date, timedelta

import pytest
from sqlmodel import select
from support.paths import DEMO_DATA
from support.records import record

from ngc_pilot import (
    audit,
    capacity_snapshot,
    intake,
    provisioning,
    selection,
    tenant_quota,
)
from ngc_pilot.application import Application
from ngc_pilot.cli.main import run
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.models import Pilot, ProvisionStep, Tenant
from policies.nomination import Nomination
from policies.selection_policy import default_policy_path, parse_policy
from policies.tenancy import load_tenant_policy
from provisioner.testing import BULK_KINDS, InMemoryCloud

pytestmark = pytest.mark.migrated


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
    records = [
        record(
            id="S-1",
            institution="A",
            principal_investigator={"name": "A", "email": "a@example.org"},
        ),
        record(
            id="S-2",
            institution="B",
            principal_investigator={"name": "B", "email": "b@example.org"},
        ),
        record(
            id="W-3",
            institution="C",
            principal_investigator={"name": "C", "email": "c@example.org"},
            eligibility={
                "personalised_medicine": True,
                "societal_interest": True,
                "data_processing_agreement": "in_progress",
            },
        ),
    ]
    with session_scope(engine) as session:
        noms = [
            intake.SourcedNomination(
                Nomination.model_validate(r, context={"vocabularies": policy.vocabularies}), "test"
            )
            for r in records
        ]
        intake.store(session, noms, actor="t", files=["t"])
        proposal = selection.propose(
            session, policy, selection.SelectOptions(k_min=3, k_max=3, explain=False)
        )
        selection.commit(session, proposal, by="t", reason="t", actor="t")
    cloud = InMemoryCloud()
    prov = provisioning.Provisioner(
        engine, load_tenant_policy(), lambda: cloud, "test", tmp_path / "env", "tester"
    )
    yield prov, cloud, engine
    engine.dispose()


def test_provision_records_every_step_and_writes_a_private_bundle(world):
    prov, cloud, engine = world
    outcomes = provisioning.provision(prov, parallel=2)
    assert sorted(o.pilot_id for o in outcomes) == ["S-1", "S-2"]  # W-3 waits for its agreement
    assert all(o.state == "active" for o in outcomes)
    with session_scope(engine) as session:
        steps = session.exec(select(ProvisionStep).where(ProvisionStep.pilot_id == "S-1")).all()
        assert {s.status for s in steps} == {"started", "done"}
        assert sum(s.status == "done" for s in steps) == len(outcomes[0].as_dict()["applied"])
        assert provisioning.waiting_for_agreement(session) == ["W-3"]
        events = [e.action for e in audit.events(session, subject="S-1")]
        assert "tenant.active" in events and "tenant.environment_written" in events
        assert events.count("tenant.step.done") == sum(s.status == "done" for s in steps)
        tenant = session.get(Tenant, "S-1")
        assert tenant.credential_id and tenant.cidr != session.get(Tenant, "S-2").cidr
    folder = prov.environments_dir / "S-1"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "clouds.yaml").stat().st_mode) == 0o600
    assert "secret-" in (folder / "clouds.yaml").read_text()
    with session_scope(engine) as session:
        assert all("secret-" not in str(e.details) for e in audit.events(session))
    before = cloud.mutating_calls
    again = provisioning.provision(prov)
    assert cloud.mutating_calls == before and all(o.plan == [] for o in again)


def test_a_reapply_of_many_tenants_observes_them_from_one_snapshot(world):
    prov, cloud, engine = world
    provisioning.provision(prov, ["S-1", "S-2"], parallel=2)
    with session_scope(engine) as session:
        audited = len(audit.events(session))
    cloud.calls.clear()
    again = provisioning.provision(prov, ["S-1", "S-2"], parallel=2)
    assert [(o.state, o.plan, o.mutating_calls) for o in again] == [("active", [], 0)] * 2
    # One listing per resource kind, no tenant observed on its own, nothing changed.
    assert cloud.calls == [f"list {kind}" for kind in BULK_KINDS]
    with session_scope(engine) as session:
        assert len(audit.events(session)) == audited  # a no-op records nothing


def test_a_new_tenant_is_settled_by_its_answers_and_drift_is_still_repaired(world):
    prov, cloud, engine = world
    [outcome] = provisioning.provision(prov, ["S-1"], parallel=1)
    assert outcome.state == "active"
    # One look before applying; the creates' answers settle a new tenant.
    assert [c for c in cloud.calls if c.startswith("observe")] == ["observe ngc-s-1"]
    with session_scope(engine) as session:
        [active] = [e for e in audit.events(session, subject="S-1") if e.action == "tenant.active"]
        assert active.details["confirmed_by"] == "answers"
        assert active.details["project_id"] == session.get(Tenant, "S-1").project_id
    # What the answers settled is what an observation finds: nothing left to plan.
    assert provisioning.plan_pilots(prov, ["S-1"])[0].plan == []
    # Drift (a quota changed behind our back) is found by the next re-apply,
    # repaired, and confirmed by looking again.
    tenant = cloud.tenants["ngc-s-1"]
    tenant.quotas["compute_quota"] = {**tenant.quotas["compute_quota"], "cores": 1}
    cloud.calls.clear()
    [again] = provisioning.provision(prov, ["S-1"], parallel=1)
    assert [c["resource"] for c in again.plan] == ["compute_quota"]
    assert [c for c in cloud.calls if c.startswith("observe")] == ["observe ngc-s-1"] * 2


def test_a_failed_change_stops_its_chain_and_the_head_ran_first(world):
    prov, cloud, _ = world
    cloud.fail_once("network", after=False, transient=False)
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "failed" and outcome.report.failed.startswith("create network")
    done = outcome.report.done
    assert [s.split()[1] for s in done[:2]] == ["domain", "project"]
    # What needs the network (its chain: the subnet, the router's interface) never ran.
    assert not any(s.startswith(("create subnet", "create router_interface")) for s in done)


def test_a_lost_reply_after_a_create_is_not_repeated(world):
    prov, cloud, engine = world
    cloud.fail_once("network", after=True, transient=True)
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "active"
    assert sum(call.startswith("create network") for call in cloud.calls) == 1
    with session_scope(engine) as session:
        statuses = [
            s.status
            for s in session.exec(
                select(ProvisionStep).where(ProvisionStep.step.startswith("create network"))
            ).all()
        ]
    assert statuses == ["started", "failed"]  # recorded, then adopted on the next pass


def test_a_permanent_failure_marks_the_tenant_failed_and_a_rerun_finishes(world):
    prov, cloud, engine = world
    cloud.fail_once("router", after=False, transient=False)
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "failed" and "router" in outcome.report.failed
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-1").state == "failed"
        assert "injected" in session.get(Tenant, "S-1").last_error
    done_before = set(outcome.report.done)
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "active"
    # Resumed where each chain stopped: the router first in its chain, nothing done twice.
    resumed = [c for c in outcome.plan if c["resource"] in ("router", "router_interface")]
    assert resumed[0]["resource"] == "router"
    steps = {f"{c['action']} {c['resource']} {c['name']}" for c in outcome.plan}
    assert done_before and not done_before & steps


def _hand_to_another_pilot(cloud: InMemoryCloud, project: str, owner: str) -> None:
    """The project under ``project``'s name now carries another pilot's tag (a case twin's)."""
    tenant = cloud.tenants[project]
    tenant.tags = tuple(t for t in tenant.tags if not t.startswith("ngc-pilot:")) + (
        f"ngc-pilot:{owner}",
    )


def test_a_foreign_project_fails_that_one_tenant_and_the_others_carry_on(world):
    prov, cloud, engine = world
    provisioning.provision(prov, ["S-1"])
    _hand_to_another_pilot(cloud, "ngc-s-1", "s-1")
    calls = cloud.mutating_calls
    outcomes = {o.pilot_id: o for o in provisioning.provision(prov, parallel=2)}
    assert outcomes["S-2"].state == "active"
    assert outcomes["S-1"].state == "failed"
    error = outcomes["S-1"].as_dict()["error"]
    assert "refusing" in error and "pilot s-1's" in error and "nothing was changed" in error
    assert cloud.mutating_calls - calls == len(outcomes["S-2"].report.done)  # S-1: untouched
    with session_scope(engine) as session:
        tenant = session.get(Tenant, "S-1")
        assert tenant.state == "failed" and tenant.last_error == error
        [event] = audit.events(session, action="tenant.failed", subject="S-1")
        assert event.details["error"] == error


def test_the_cli_names_the_tenant_refused_as_foreign_and_exits_1(world, capsys, monkeypatch):
    prov, cloud, engine = world
    provisioning.provision(prov, ["S-1"])
    _hand_to_another_pilot(cloud, "ngc-s-1", "s-1")
    monkeypatch.setattr(Application, "provisioner", lambda self: prov)
    url = engine.url.render_as_string(hide_password=False)
    assert run(["--db", url, "provision", "--json"]) == 1
    out = capsys.readouterr()
    states = {t["pilot"]: t["state"] for t in json.loads(out.out)["tenants"]}
    assert states == {"S-1": "failed", "S-2": "active"}
    [line] = [x for x in out.err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: tenant S-1 failed: refusing") and "pilot s-1's" in line


def test_unsigned_agreement_is_refused_and_nothing_is_written(world):
    prov, cloud, engine = world
    with pytest.raises(InputError, match="must be 'signed'"):
        provisioning.provision(prov, ["W-3"])
    with session_scope(engine) as session:
        assert session.exec(select(Tenant)).all() == []
    assert cloud.calls == []


def test_overcommit_is_refused_with_numbers_unless_allowed(world):
    prov, _, engine = world
    small = InMemoryCloud(cores=10)
    prov.backend_factory = lambda: small
    with pytest.raises(InputError) as info:
        provisioning.provision(prov, ["S-1"])
    assert "cores: tenants' quotas would total 64, the cloud can allocate 10" in str(info.value)
    with session_scope(engine) as session:
        assert session.exec(select(Tenant)).all() == []
    [outcome] = provisioning.provision(prov, ["S-1"], allow_overcommit=True)
    assert outcome.state == "active"
    with session_scope(engine) as session:
        assert [e.action for e in audit.events(session, action="tenant.overcommit")] == [
            "tenant.overcommit_allowed"
        ]


def test_teardown_removes_the_tenant_and_its_bundle(world):
    prov, cloud, engine = world
    provisioning.provision(prov, ["S-1"])
    result = provisioning.teardown(prov, "S-1", reason="pilot ended")
    assert result.as_dict()["clean"] is True
    assert not (prov.environments_dir / "S-1").exists()
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-1").state == "torn_down"


def test_a_pilot_whose_period_ended_is_refused_before_any_cloud_call(world):
    prov, cloud, engine = world
    with session_scope(engine) as session:
        pilot = session.get(Pilot, "S-1")
        start, end = pilot.planned_start, pilot.planned_end
    after = end + timedelta(days=1)
    with pytest.raises(InputError) as info:
        provisioning.provision(prov, ["S-1"], today=after)
    assert str(info.value).count("\n") == 0
    assert (
        f"S-1: the pilot period {start.isoformat()} to {end.isoformat()} has ended "
        f"(today is {after.isoformat()})"
    ) in str(info.value)
    assert cloud.calls == [] and cloud.mutating_calls == 0
    with session_scope(engine) as session:
        assert session.exec(select(Tenant)).all() == []


def test_a_pilot_on_its_last_day_is_still_provisioned(world):
    prov, cloud, engine = world
    with session_scope(engine) as session:
        end = session.get(Pilot, "S-1").planned_end
    [outcome] = provisioning.provision(prov, ["S-1"], today=end)
    assert outcome.state == "active"


def test_without_ids_pilots_whose_period_ended_are_left_to_the_lifecycle(world):
    prov, cloud, engine = world
    with session_scope(engine) as session:
        end = session.get(Pilot, "S-1").planned_end
    assert provisioning.provision(prov, today=end + timedelta(days=1)) == []
    assert cloud.calls == []


def test_the_cli_refuses_an_ended_pilot_with_exit_2_naming_its_dates_and_today(cli, tmp_path):
    assert cli("intake", "import", str(DEMO_DATA / "nominations.yaml")).code == 0
    assert cli("select", "--commit", "--by", "t", "--reason", "t").code == 0
    pilots = cli("select", "pilots", "--json").json()
    ended = [p for p in pilots if p["planned_end"] < date.today().isoformat()]
    assert ended  # the shipped policy's 2021 period
    result = cli("provision", *[p["id"] for p in ended], "--clouds-file", str(tmp_path / "none"))
    assert result.code == 2
    today = date.today().isoformat()
    lines = [line for line in result.err.splitlines() if "has ended" in line]
    assert lines
    for line in lines:
        pilot = next(p for p in ended if f"{p['id']}: the pilot period" in line)
        assert f"{pilot['planned_start']} to {pilot['planned_end']} has ended" in line
        assert f"(today is {today})" in line
    assert cli("tenants", "--json").json() == []


def test_a_failed_tenant_still_holds_its_quota_in_the_capacity_gate(world):
    """The gate counts the tenants ``tenant_quota`` says hold capacity — the
    same ones the capacity snapshot counts — and a failed tenant is one."""
    prov, _, engine = world
    cloud = InMemoryCloud(cores=100)  # room for one small tenant (64 cores), not two
    prov.backend_factory = lambda: cloud
    cloud.fail_once("router", after=False, transient=False)
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "failed"
    with session_scope(engine) as session:
        assert [t.pilot_id for t in tenant_quota.holding_tenants(session)] == ["S-1"]
        assert capacity_snapshot.tenant_sizes(session) == tenant_quota.holding_sizes(session)
    with pytest.raises(InputError, match="cores: tenants' quotas would total 128"):
        provisioning.provision(prov, ["S-2"])


def test_the_cli_refuses_an_unknown_platform_in_one_line_naming_it(cli):
    for command in (
        ["provision", "--platform", "vmware"],
        ["teardown", "X", "--yes", "--platform", "vmware"],
    ):
        result = cli(*command)
        assert result.code == 2
        lines = [line for line in result.err.splitlines() if "vmware" in line]
        assert len(lines) == 1 and "openstack, kubernetes" in lines[0]
    # kubernetes without a configured cluster: one line naming the setting
    result = cli("provision", "--platform", "kubernetes")
    assert result.code == 2 and "kubernetes.kubeconfig" in result.err
    assert cli("tenants", "--json").json() == []
