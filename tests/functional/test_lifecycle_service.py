"""The lifecycle service on SQLite and PostgreSQL: notices in the outbox once
each, suspension, final invoice before teardown, the data-access switch, drift
reports and repairs, each audited and each idempotent.

The cloud here is ``provisioner.testing.InMemoryCloud``: this tier checks the
database side (outbox, ledger, audit, tenant rows, what runs twice) on both
databases without an OpenStack.  What the cloud does with a suspension, a
role grant or a repair is checked against devcloud, with the real
``openstack`` CLI, in ``tests/integration/test_lifecycle.py``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import col, select
from support.records import record

from ngc_pilot import audit, intake, lifecycle, provisioning, selection
from ngc_pilot.application import Application as AppShell
from ngc_pilot.cli.main import run
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.models import (
    Application,
    AuditEvent,
    OutboxMessage,
    Pilot,
    ProvisionStep,
    Tenant,
)
from policies.lifecycle import (
    default_lifecycle_policy_path,
    load_lifecycle_policy,
    parse_lifecycle_policy,
)
from policies.nomination import Nomination
from policies.selection_policy import default_policy_path, parse_policy
from policies.tenancy import load_tenant_policy
from provisioner.testing import InMemoryCloud

pytestmark = pytest.mark.migrated


@pytest.fixture
def world(database, tmp_path):
    """Two provisioned tenants (S-1, S-2) whose pilot period runs around today; S-1 uses
    the national genome data, S-2 only hospital data (so it never gets data access)."""
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
            id=f"S-{i}",
            institution=f"Inst {i}",
            principal_investigator={"name": f"PI {i}", "email": f"s{i}@example.org"},
            data__sources=["hospital", "national_genome_center"] if i == 1 else ["hospital"],
        )
        for i in (1, 2)
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
            session, policy, selection.SelectOptions(k_min=2, k_max=2, explain=False)
        )
        selection.commit(session, proposal, by="t", reason="t", actor="t")
    cloud = InMemoryCloud()
    prov = provisioning.Provisioner(
        engine,
        load_tenant_policy(),
        lambda: cloud,
        "test",
        tmp_path / "env",
        "tester",
        load_lifecycle_policy(),
    )
    assert all(o.state == "active" for o in provisioning.provision(prov, parallel=1))
    with session_scope(engine) as session:
        last_day = session.get(Pilot, "S-1").planned_end
    yield prov, cloud, engine, last_day
    engine.dispose()


def _events(engine, action: str, subject: str | None = None) -> list[AuditEvent]:
    """Audit events whose action starts with ``action`` (a trailing "$": exactly it)."""
    exact = action.endswith("$")
    with session_scope(engine) as session:
        found = audit.events(session, action=action.rstrip("$"), subject=subject)
    return [e for e in found if not exact or e.action == action.rstrip("$")]


def _outbox(engine) -> list[OutboxMessage]:
    """The expiry notices (provisioning queued a "tenant ready" notice before them;
    suspended and torn-down notices are checked in tests/functional/test_mail_notices.py)."""
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.kind).startswith("expiry-"))
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def _tenant(engine, pilot_id: str) -> Tenant:
    with session_scope(engine) as session:
        return session.get(Tenant, pilot_id)


# -------------------------------------------------------------------- notices


def test_a_notice_is_recorded_once_in_the_outbox_and_the_audit_log(world):
    prov, cloud, engine, last_day = world
    calls = len(cloud.calls)
    first = lifecycle.expire(prov, today=last_day - timedelta(days=14))
    assert [(s.pilot_id, s.action, s.detail["days"]) for s in first.steps] == [
        ("S-1", "notice", 14),
        ("S-2", "notice", 14),
    ]
    messages = _outbox(engine)
    assert [m.key for m in messages] == [
        f"expiry-14d:S-1:{last_day}",
        f"expiry-14d:S-2:{last_day}",
    ]
    assert messages[0].recipient == "s1@example.org" and messages[0].kind == "expiry-14d"
    assert str(last_day) in messages[0].subject and "PI 1" in messages[0].body
    [event] = _events(engine, "tenant.expiry_notice", "S-1")
    assert event.details["today"] == str(last_day - timedelta(days=14))
    assert event.details["today_given"] is True
    assert "given by the operator" in event.reason
    assert len(cloud.calls) == calls  # notices need no cloud

    again = lifecycle.expire(prov, today=last_day - timedelta(days=14))
    later = lifecycle.expire(prov, today=last_day - timedelta(days=10))
    assert again.steps == [] and later.steps == []
    assert len(_outbox(engine)) == 2
    assert len(_events(engine, "tenant.expiry_notice")) == 2


def test_each_notice_day_adds_its_own_notice(world):
    prov, _, engine, last_day = world
    for days in (14, 7, 1):
        lifecycle.expire(prov, today=last_day - timedelta(days=days))
    kinds = [m.kind for m in _outbox(engine) if m.pilot_id == "S-1"]
    assert kinds == ["expiry-14d", "expiry-7d", "expiry-1d"]


def test_notices_to_the_pi_are_in_the_pis_language(world):
    prov, _, engine, last_day = world
    with session_scope(engine) as session:
        app = session.get(Application, session.get(Pilot, "S-2").application_id)
        app.document = {
            **app.document,
            "principal_investigator": {**app.document["principal_investigator"], "language": "en"},
        }
        session.add(app)
    lifecycle.expire(prov, today=last_day - timedelta(days=14))
    told = {m.pilot_id: m for m in _outbox(engine)}
    assert told["S-1"].language == "da" and told["S-2"].language == "en"
    assert "PI 2" in told["S-2"].body and told["S-2"].subject != told["S-1"].subject


def test_nothing_is_due_long_before_the_end(world):
    prov, _, engine, last_day = world
    report = lifecycle.expire(prov, today=last_day - timedelta(days=40))
    assert report.as_dict()["steps"] == [] and report.checked == 2
    assert _outbox(engine) == []


def test_without_a_given_date_the_clock_is_used_and_said_so(world):
    prov, _, _, _ = world
    data = lifecycle.expire(prov).as_dict()
    assert data["today"] == date.today().isoformat() and data["today_given"] is False


# ----------------------------------------------------------------- suspension


def test_the_day_after_the_last_day_the_tenant_is_suspended_once(world):
    prov, cloud, engine, last_day = world
    report = lifecycle.expire(prov, today=last_day + timedelta(days=1))
    assert [(s.pilot_id, s.action, s.ok) for s in report.steps] == [
        ("S-1", "suspend", True),
        ("S-2", "suspend", True),
    ]
    tenant = _tenant(engine, "S-1")
    assert tenant.state == "suspended" and tenant.suspended_at is not None
    cloud_tenant = cloud.tenants["ngc-s-1"]
    assert cloud_tenant.enabled is False
    assert cloud_tenant.quotas["compute_quota"] == {"cores": 0, "ram": 0, "instances": 0}
    assert cloud_tenant.quotas["volume_quota"] == {"volumes": 0, "gigabytes": 0}
    assert cloud_tenant.quotas["network_quota"]["networks"] == 2  # kept: the network still counts
    with session_scope(engine) as session:
        steps = [
            s.step
            for s in session.exec(
                select(ProvisionStep)
                .where(ProvisionStep.pilot_id == "S-1")
                .where(ProvisionStep.status == "done")
                .order_by(col(ProvisionStep.id))
            ).all()
        ][-3:]
    assert steps == [
        "update project ngc-s-1",
        "update compute_quota ngc-s-1",
        "update volume_quota ngc-s-1",
    ]
    [decided] = _events(engine, "tenant.suspend$", "S-1")
    assert decided.details["last_day"] == str(last_day) and decided.details["today_given"]
    assert [e.details["from"] for e in _events(engine, "tenant.suspended", "S-1")] == ["active"]

    calls = cloud.mutating_calls
    audit_count = len(_events(engine, "tenant"))
    again = lifecycle.expire(prov, today=last_day + timedelta(days=2))
    assert again.steps == [] and cloud.mutating_calls == calls
    assert len(_events(engine, "tenant")) == audit_count


def test_provisioning_a_suspended_tenant_keeps_it_suspended(world):
    prov, cloud, engine, last_day = world
    lifecycle.expire(prov, today=last_day + timedelta(days=1))
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "suspended" and outcome.plan == []
    assert _tenant(engine, "S-1").state == "suspended"
    assert cloud.tenants["ngc-s-1"].enabled is False


def test_suspension_applies_only_its_own_changes_and_leaves_other_drift_to_reconcile(world):
    prov, cloud, engine, last_day = world
    t = cloud.tenants["ngc-s-1"]
    t.rules.clear()  # drift unrelated to the suspension
    lifecycle.expire(prov, today=last_day + timedelta(days=1))
    assert t.rules == {} and t.enabled is False
    drift = lifecycle.reconcile(prov).tenants[0]
    assert [c["resource"] for c in drift.drift] == ["security_group_rule"]


def test_a_failed_suspension_is_retried_on_the_next_run(world):
    prov, cloud, engine, last_day = world
    cloud.fail_once("compute_quota", after=False, transient=False)
    first = lifecycle.expire(prov, today=last_day + timedelta(days=1))
    assert [s.ok for s in first.steps] == [False, True]
    assert "injected" in first.steps[0].error
    assert _tenant(engine, "S-1").state == "failed"
    second = lifecycle.expire(prov, today=last_day + timedelta(days=1))
    assert [(s.pilot_id, s.ok) for s in second.steps] == [("S-1", True)]
    assert _tenant(engine, "S-1").state == "suspended"
    assert cloud.tenants["ngc-s-1"].quotas["compute_quota"]["cores"] == 0


# -------------------------------------------------- final invoice and teardown


def test_without_a_final_invoice_there_is_no_teardown(world, tmp_path):
    """The configured price list (``Provisioner.prices_file``) covers none of the
    tenant's months, so rating fails: the tenant is not torn down."""
    from policies.prices import default_prices_path

    prov, cloud, engine, last_day = world
    text = default_prices_path().read_text()
    assert "valid_from: 2021-01-01" in text
    prov.prices_file = tmp_path / "prices.yaml"
    prov.prices_file.write_text(text.replace("valid_from: 2021-01-01", "valid_from: 2099-01-01"))
    report = lifecycle.expire(prov, today=last_day + timedelta(days=31))
    assert [(s.action, s.ok) for s in report.steps] == [("final_invoice", False)] * 2
    assert "teardown waits for the final invoice" in report.steps[0].error
    assert _tenant(engine, "S-1").state == "active"
    assert "ngc-s-1" in cloud.tenants


def test_after_the_grace_period_final_invoices_then_teardown(world):
    pytest.importorskip("ngc_pilot.billing", reason="the billing part has not landed")
    from ngc_pilot.models import Invoice

    prov, cloud, engine, last_day = world
    lifecycle.expire(prov, today=last_day + timedelta(days=1))
    report = lifecycle.expire(prov, today=last_day + timedelta(days=31))
    by_pilot = [(s.pilot_id, s.action, s.ok, s.error) for s in report.steps]
    assert by_pilot == [
        ("S-1", "final_invoice", True, None),
        ("S-1", "teardown", True, None),
        ("S-2", "final_invoice", True, None),
        ("S-2", "teardown", True, None),
    ]
    with session_scope(engine) as session:
        created = session.get(Tenant, "S-1").created_at
        invoices = session.exec(select(Invoice).where(Invoice.pilot_id == "S-1")).all()
    months = sorted({i.month for i in invoices if i.final})
    # every month from the tenant's creation through the teardown day
    assert months[0] == f"{created:%Y-%m}"
    assert months[-1] == f"{last_day + timedelta(days=31):%Y-%m}"
    assert report.steps[0].detail["months"] == months
    assert [i["month"] for i in report.steps[0].detail["invoices"]] == months
    assert _tenant(engine, "S-1").state == "torn_down" and "ngc-s-1" not in cloud.tenants
    [torn] = _events(engine, "tenant.torn_down", "S-1")
    assert "grace period" in torn.reason and "given by the operator" in torn.reason
    assert _events(engine, "tenant.final_invoice", "S-1")
    again = lifecycle.expire(prov, today=last_day + timedelta(days=32))
    assert again.steps == [] and again.checked == 0


def test_the_pi_is_told_the_tenant_is_ready_suspended_and_torn_down_once_each(world):
    pytest.importorskip("ngc_pilot.billing", reason="the billing part has not landed")
    prov, _, engine, last_day = world
    provisioning.provision(prov, parallel=1)  # provisioned twice: still one "ready"
    for days in (1, 1, 31, 32):
        lifecycle.expire(prov, today=last_day + timedelta(days=days))
    with session_scope(engine) as session:
        told = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.pilot_id == "S-1")
            .order_by(col(OutboxMessage.id))
        ).all()
    assert [(m.key, m.recipient) for m in told] == [
        ("tenant-ready:S-1", "s1@example.org"),
        (f"suspended:S-1:{last_day}", "s1@example.org"),
        (f"torn-down:S-1:{last_day}", "s1@example.org"),
    ]
    assert str(last_day + timedelta(days=31)) in told[1].body  # the teardown day
    assert {m.status for m in told} == {"queued"} and {m.language for m in told} == {"da"}


# ------------------------------------------------------------------ reconcile


def test_reconcile_reports_exactly_the_drift_and_audits_it_once(world):
    prov, cloud, engine, _ = world
    assert [t.drift for t in lifecycle.reconcile(prov).tenants] == [[], []]
    t = cloud.tenants["ngc-s-1"]
    t.quotas["compute_quota"]["cores"] = 5
    rule_id, (proto, low, high, cidr) = next(iter(t.rules.items()))
    del t.rules[rule_id]
    calls = cloud.mutating_calls
    report = lifecycle.reconcile(prov)
    assert report.repair is False
    s1, s2 = report.tenants
    assert s1.drift == [
        {
            "action": "update",
            "resource": "compute_quota",
            "name": "ngc-s-1",
            "detail": {"cores": 64},
        },
        {
            "action": "create",
            "resource": "security_group_rule",
            "name": "ngc-s-1-ops-access",
            "detail": {"protocol": proto, "port_min": low, "port_max": high, "remote_cidr": cidr},
        },
    ]
    assert s2.drift == [] and not s1.repaired
    assert cloud.mutating_calls == calls and t.quotas["compute_quota"]["cores"] == 5
    [event] = _events(engine, "tenant.drift", "S-1")
    assert event.details["drift"] == s1.drift
    lifecycle.reconcile(prov)
    assert len(_events(engine, "tenant.drift")) == 1  # unchanged drift: not audited again


def test_repair_puts_drift_right_through_the_ledger(world):
    prov, cloud, engine, _ = world
    cloud.tenants["ngc-s-2"].quotas["volume_quota"]["gigabytes"] = 1
    report = lifecycle.reconcile(prov, repair=True)
    s2 = report.tenants[1]
    assert s2.repaired and s2.applied == ["update volume_quota ngc-s-2"]
    assert cloud.tenants["ngc-s-2"].quotas["volume_quota"]["gigabytes"] == 2000
    with session_scope(engine) as session:
        last = session.exec(
            select(ProvisionStep)
            .where(ProvisionStep.pilot_id == "S-2")
            .order_by(col(ProvisionStep.id).desc())
        ).first()
    assert (last.step, last.status) == ("update volume_quota ngc-s-2", "done")
    assert [e.action for e in _events(engine, "tenant.re", "S-2")] == ["tenant.repaired"]
    assert _tenant(engine, "S-2").state == "active"
    calls, events = cloud.mutating_calls, len(_events(engine, ""))
    again = lifecycle.reconcile(prov, repair=True)
    assert [t.drift for t in again.tenants] == [[], []]
    assert cloud.mutating_calls == calls and len(_events(engine, "")) == events


def test_a_foreign_project_fails_that_tenant_and_reconcile_checks_the_others(world, capsys):
    """A tenant whose project now carries another pilot's tag is marked failed
    (state, error, audit); the other tenant is still checked and repaired."""
    prov, cloud, engine, _ = world
    first = cloud.tenants["ngc-s-1"]
    first.tags = tuple(t for t in first.tags if not t.startswith("ngc-pilot:")) + ("ngc-pilot:s-1",)
    cloud.tenants["ngc-s-2"].quotas["volume_quota"]["gigabytes"] = 1
    calls = cloud.mutating_calls
    report = lifecycle.reconcile(prov, repair=True)
    s1, s2 = report.tenants
    assert s1.error and "refusing" in s1.error and "pilot s-1's" in s1.error
    assert s1.drift == [] and not s1.repaired
    assert s2.repaired and s2.applied == ["update volume_quota ngc-s-2"]
    assert cloud.mutating_calls == calls + 1  # S-2's repair only
    tenant = _tenant(engine, "S-1")
    assert tenant.state == "failed" and tenant.last_error == s1.error
    [event] = _events(engine, "tenant.failed$", "S-1")
    assert event.details == {"from": "active", "error": s1.error, "project_id": None}
    assert _tenant(engine, "S-2").state == "active"


def test_the_cli_reconcile_names_the_failed_tenant_and_exits_1(world, capsys, monkeypatch):
    prov, cloud, engine, _ = world
    first = cloud.tenants["ngc-s-1"]
    first.tags = tuple(t for t in first.tags if not t.startswith("ngc-pilot:")) + ("ngc-pilot:s-1",)
    monkeypatch.setattr(AppShell, "provisioner", lambda self: prov)
    url = engine.url.render_as_string(hide_password=False)
    assert run(["--db", url, "tenants", "reconcile", "--json"]) == 1
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["checked"] == 2 and data["failed"] == 1
    [line] = [x for x in out.err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: tenant S-1 failed: refusing")


def test_the_policy_decides_repair_when_not_told(world):
    prov, cloud, _, _ = world
    prov.lifecycle_policy = parse_lifecycle_policy(
        default_lifecycle_policy_path().read_text().replace("repair: false", "repair: true")
    )
    cloud.tenants["ngc-s-1"].quotas["compute_quota"]["instances"] = 1
    report = lifecycle.reconcile(prov)
    assert report.repair is True and report.tenants[0].repaired
    assert cloud.tenants["ngc-s-1"].quotas["compute_quota"]["instances"] == 10


def test_a_suspended_tenant_re_enabled_by_hand_is_drift_and_repaired(world):
    prov, cloud, _, last_day = world
    lifecycle.expire(prov, today=last_day + timedelta(days=1))
    cloud.tenants["ngc-s-1"].enabled = True
    report = lifecycle.reconcile(prov, repair=True)
    s1 = report.tenants[0]
    assert s1.state == "suspended"
    assert s1.drift == [
        {"action": "update", "resource": "project", "name": "ngc-s-1", "detail": {"enabled": False}}
    ]
    assert cloud.tenants["ngc-s-1"].enabled is False


# ---------------------------------------------------------------- data access


def test_data_access_is_not_granted_before_its_date(world):
    prov, cloud, engine, _ = world
    calls = cloud.mutating_calls
    report = lifecycle.switch_data_access(prov, today=date(2021, 5, 31))
    assert report.as_dict()["due"] is False and report.tenants == []
    assert cloud.mutating_calls == calls
    assert _tenant(engine, "S-1").data_access_granted_at is None


def test_data_access_is_granted_once_per_active_tenant_with_national_data_and_audited(world):
    prov, cloud, engine, last_day = world
    report = lifecycle.switch_data_access(prov, today=date(2021, 6, 1))
    assert [(t["pilot"], t["granted"], t["applied"]) for t in report.tenants] == [
        ("S-1", True, ["create role_assignment ngc-data-access"]),
    ]
    # data minimisation: S-2 names no national genome data, and the report says so
    [s2] = report.as_dict()["skipped"]
    assert s2["pilot"] == "S-2" and s2["status"] == "no_national_data"
    assert "(hospital)" in s2["why"] and "national_genome_center" in s2["why"]
    assert "role:ngc-data-access" in cloud.tenants["ngc-s-1"].flags
    assert "role:ngc-data-access" not in cloud.tenants["ngc-s-2"].flags
    assert _tenant(engine, "S-1").data_access_granted_at is not None
    assert _tenant(engine, "S-2").data_access_granted_at is None
    [event] = _events(engine, "tenant.data_access_granted", "S-1")
    assert event.details["role"] == "ngc-data-access" and event.details["today"] == "2021-06-01"
    assert event.details["date"] == "2021-06-01" and event.details["own_date"] is False
    assert _events(engine, "tenant.data_access_granted", "S-2") == []
    calls = cloud.mutating_calls
    again = lifecycle.switch_data_access(prov, today=date(2021, 6, 2))
    assert again.tenants == [] and cloud.mutating_calls == calls
    assert [(t["pilot"], t["status"]) for t in again.skipped] == [
        ("S-1", "granted"),
        ("S-2", "no_national_data"),
    ]
    # the grant is now part of the desired state: no drift, and kept by provision
    assert [t.drift for t in lifecycle.reconcile(prov).tenants] == [[], []]
    assert [o.plan for o in provisioning.plan_pilots(prov, ["S-1"])] == [[]]


def test_a_missing_role_is_refused_and_nothing_changes(world):
    prov, cloud, engine, _ = world
    cloud.roles.discard("ngc-data-access")
    calls = cloud.mutating_calls
    report = lifecycle.switch_data_access(prov, today=date(2021, 6, 1))
    assert [(t["pilot"], t["granted"]) for t in report.tenants] == [("S-1", False)]
    assert "'ngc-data-access' does not exist" in report.tenants[0]["error"]
    assert "openstack role create ngc-data-access" in report.tenants[0]["error"]
    assert cloud.mutating_calls == calls
    assert _tenant(engine, "S-1").data_access_granted_at is None
    assert _events(engine, "tenant.data_access") == []


def test_data_access_given_by_hand_before_its_grant_is_drift_and_repaired(world):
    prov, cloud, _, _ = world
    cloud.tenants["ngc-s-2"].flags.add("role:ngc-data-access")
    s2 = lifecycle.reconcile(prov, repair=True).tenants[1]
    assert [(c["action"], c["resource"], c["name"]) for c in s2.drift] == [
        ("delete", "role_assignment", "ngc-data-access")
    ]
    assert s2.repaired and "role:ngc-data-access" not in cloud.tenants["ngc-s-2"].flags


def test_a_pilots_own_date_wins_over_the_policys_either_way(world):
    prov, cloud, engine, _ = world
    policy = prov.lifecycle()
    earlier = lifecycle.set_data_access_date(
        engine, policy, "S-1", date(2021, 5, 1), actor="ops", why="DPA signed early"
    )
    assert earlier == {"pilot": "S-1", "from": None, "to": "2021-05-01", "date": "2021-05-01"}
    [event] = _events(engine, "pilot.data_access_date_set", "S-1")
    assert event.actor == "ops" and event.reason == "DPA signed early"
    assert event.details["to"] == "2021-05-01"
    # before its own date: listed with why, nothing changes
    calls = cloud.mutating_calls
    early = lifecycle.switch_data_access(prov, today=date(2021, 4, 30))
    assert early.tenants == [] and cloud.mutating_calls == calls
    assert [(t["pilot"], t["status"], t["date"], t["own_date"]) for t in early.skipped][0] == (
        "S-1",
        "not_due",
        "2021-05-01",
        True,
    )
    assert "not before 2021-05-01 (its own date)" in early.skipped[0]["why"]
    # on it, a month before the policy's date: granted
    report = lifecycle.switch_data_access(prov, today=date(2021, 5, 1))
    assert report.due is False  # the policy's date has not come
    assert [(t["pilot"], t["granted"]) for t in report.tenants] == [("S-1", True)]
    [granted] = _events(engine, "tenant.data_access_granted", "S-1")
    assert granted.details["own_date"] is True and "the pilot's" in granted.reason


def test_a_later_own_date_holds_the_grant_back_and_policy_returns_to_the_default(world):
    prov, _, engine, _ = world
    policy = prov.lifecycle()
    lifecycle.set_data_access_date(engine, policy, "S-1", date(2021, 7, 1), actor="ops")
    held = lifecycle.switch_data_access(prov, today=date(2021, 6, 15))
    assert held.due and held.tenants == []
    back = lifecycle.set_data_access_date(engine, policy, "S-1", None, actor="ops")
    assert back == {"pilot": "S-1", "from": "2021-07-01", "to": None, "date": "2021-06-01"}
    report = lifecycle.switch_data_access(prov, today=date(2021, 6, 15))
    assert [(t["pilot"], t["granted"]) for t in report.tenants] == [("S-1", True)]


def test_setting_a_date_is_refused_for_an_unknown_pilot_no_national_data_or_a_granted_one(world):
    prov, _, engine, _ = world
    policy = prov.lifecycle()
    with pytest.raises(InputError, match="'S-9'.*no such pilot"):
        lifecycle.set_data_access_date(engine, policy, "S-9", date(2021, 5, 1), actor="ops")
    with pytest.raises(InputError, match="reason.*control characters"):
        lifecycle.set_data_access_date(
            engine, policy, "S-1", date(2021, 5, 1), actor="ops", why="ok\x1b[2J"
        )
    with pytest.raises(InputError, match="'S-2'.*include none of the national genome data"):
        lifecycle.set_data_access_date(engine, policy, "S-2", date(2021, 5, 1), actor="ops")
    lifecycle.switch_data_access(prov, today=date(2021, 6, 1))
    with pytest.raises(InputError, match="already granted"):
        lifecycle.set_data_access_date(engine, policy, "S-1", date(2021, 7, 1), actor="ops")
    with session_scope(engine) as session:
        assert [session.get(Pilot, p).data_access_date for p in ("S-1", "S-2")] == [None, None]
    assert _events(engine, "pilot.data_access_date_set") == []


def test_suspended_tenants_get_no_data_access(world):
    prov, cloud, _, last_day = world
    lifecycle.expire(prov, today=last_day + timedelta(days=1))
    report = lifecycle.switch_data_access(prov, today=last_day + timedelta(days=1))
    assert report.due and report.tenants == []


# ------------------------------------------------------------------------ CLI


def test_cli_expire_with_a_date_then_outbox(world, capsys, tmp_path):
    prov, _, engine, last_day = world
    url = engine.url.render_as_string(hide_password=False)
    base = ["--db", url, "--actor", "ops"]
    day = str(last_day - timedelta(days=7))
    assert run([*base, "tenants", "expire", "--today", day, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["today"] == day and data["today_given"] is True
    assert [s["action"] for s in data["steps"]] == ["notice", "notice"]
    assert run([*base, "outbox", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["kind"] for r in rows] == ["tenant_ready"] * 2 + ["expiry-7d"] * 2
    assert {r["status"] for r in rows} == {"queued"} and {r["attempts"] for r in rows} == {0}
    assert run([*base, "outbox", "--pilot", "S-2", "--json"]) == 0
    assert [r["pilot"] for r in json.loads(capsys.readouterr().out)] == ["S-2", "S-2"]
    [event] = _events(engine, "tenant.expiry_notice", "S-1")
    assert event.actor == "ops" and event.details["today"] == day


def test_cli_data_access_date_then_data_access_says_why_per_pilot(world, capsys):
    _, _, engine, _ = world
    url = engine.url.render_as_string(hide_password=False)
    base = ["--db", url, "--actor", "ops"]
    assert run([*base, "tenants", "data-access-date", "S-1", "2021-02-30"]) == 2
    err = capsys.readouterr().err
    assert "DATE" in err and "2021-02-30" in err and "YYYY-MM-DD" in err
    assert run([*base, "tenants", "data-access-date", "S-2", "2021-05-01"]) == 2
    assert "national genome data" in capsys.readouterr().err
    assert _events(engine, "pilot.data_access_date_set") == []
    cmd = [*base, "tenants", "data-access-date", "S-1", "2021-07-01", "--json"]
    assert run(cmd) == 0
    assert json.loads(capsys.readouterr().out)["date"] == "2021-07-01"
    assert run([*base, "tenants", "data-access", "--today", "2021-06-01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tenants"] == [] and data["sources"] == ["national_genome_center"]
    assert {t["pilot"]: t["status"] for t in data["skipped"]} == {
        "S-1": "not_due",
        "S-2": "no_national_data",
    }
    assert run([*base, "tenants", "data-access", "--today", "2021-06-01"]) == 0
    out = capsys.readouterr().out
    assert "not before 2021-07-01 (its own date)" in out and "never granted" in out


def test_cli_refuses_a_bad_date_and_a_bad_policy_file(world, capsys, tmp_path, monkeypatch):
    _, _, engine, _ = world
    url = engine.url.render_as_string(hide_password=False)
    assert run(["--db", url, "tenants", "expire", "--today", "2021-02-30"]) == 2
    err = capsys.readouterr().err
    assert "--today" in err and "2021-02-30" in err
    bad = tmp_path / "lifecycle.yaml"
    bad.write_text(
        default_lifecycle_policy_path().read_text().replace("grace_days: 30", "grace_days: soon")
    )
    monkeypatch.setenv("NGC_PILOT_POLICY__LIFECYCLE_FILE", str(bad))
    assert run(["--db", url, "tenants", "expire"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "grace_days" in err and "soon" in err
    assert _outbox(engine) == []


# ------------------------------------------------------------- bulk observation


def _desired(prov):
    from ngc_pilot.lifecycle.shared import tenants_in
    from ngc_pilot.tenant_rows import desired_for

    with session_scope(prov.engine) as session:
        return [desired_for(t, p, a, prov) for t, p, a in tenants_in(session, ("active",))]


def test_reconcile_lists_each_resource_kind_once_whatever_the_number_of_tenants(world):
    from provisioner.testing import BULK_KINDS

    prov, cloud, _, _ = world
    cloud.tenants["ngc-s-1"].quotas["compute_quota"]["cores"] = 5  # drift in one tenant
    cloud.calls.clear()
    report = lifecycle.reconcile(prov)
    assert [len(t.drift) for t in report.tenants] == [1, 0]
    # No per-tenant observation: one listing per kind for both tenants.
    assert cloud.calls == [f"list {kind}" for kind in BULK_KINDS]


def test_the_bulk_snapshot_gives_exactly_the_per_tenant_observation(world):
    import dataclasses

    prov, cloud, _, _ = world
    desired = _desired(prov)
    t = cloud.tenants["ngc-s-1"]
    t.quotas["compute_quota"]["cores"] = 5
    del t.rules[next(iter(t.rules))]
    missing = dataclasses.replace(desired[0], pilot_id="S-9", project="ngc-s-9")
    foreign = dataclasses.replace(desired[1], pilot_id="S-8")  # S-2's project, another pilot
    wanted = [*desired, missing, foreign]
    assert cloud.observe_many(wanted) == [cloud.observe(d) for d in wanted]
    assert cloud.observe_many(wanted)[3].foreign
