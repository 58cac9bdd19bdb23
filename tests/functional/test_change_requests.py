"""Change requests on SQLite and PostgreSQL: filed with checks, decided once with a
reason, applied through the provisioner's plan, the PI told in the outbox, audited.

The cloud is ``provisioner.testing.InMemoryCloud`` (the database side on both
backends, and a capacity a test can make small); that an extension really
moves the credential's expiry in OpenStack is checked against devcloud in
``tests/integration/test_change_requests_devcloud.py``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import col, select
from support.pilots import seed_pilots
from support.records import record

from ngc_pilot import (
    audit,
    change_requests,
    intake,
    lifecycle,
    member_reads,
    members,
    provisioning,
    request_decisions,
    selection,
)
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.models import AuditEvent, OutboxMessage, Pilot, Tenant
from ngc_pilot.request_models import ChangeRequest
from policies.lifecycle import load_lifecycle_policy
from policies.nomination import Nomination
from policies.selection_policy import default_policy_path, parse_policy
from policies.tenancy import load_tenant_policy
from provisioner.testing import InMemoryCloud

pytestmark = pytest.mark.migrated


@pytest.fixture
def world(database, tmp_path):
    """Two provisioned small tenants (S-1, S-2) whose pilot period runs around today."""
    start = date.today() - timedelta(days=3)
    policy = parse_policy(
        default_policy_path()
        .read_text()
        .replace("start: 2021-04-15", f"start: {start}")
        .replace("end: 2021-08-31", f"end: {start + timedelta(days=100)}")
    )
    engine = make_engine(database.url)
    # S-1 uses the national genome data (data access may be granted), its PI reads
    # Danish (the default); S-2 uses hospital data only, its PI reads English.
    records = [
        record(
            id="S-1",
            institution="Inst 1",
            principal_investigator={"name": "PI 1", "email": "s1@example.org"},
            data={
                "volume": "10 TB",
                "types": ["wgs"],
                "sources": ["national_genome_center", "hospital"],
                "subjects": 100,
            },
        ),
        record(
            id="S-2",
            institution="Inst 2",
            principal_investigator={"name": "PI 2", "email": "s2@example.org", "language": "en"},
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
    yield prov, cloud, engine
    engine.dispose()


def _file(prov, pilot_id: str, kind: str, value: str = "") -> int:
    with session_scope(prov.engine) as session:
        return change_requests.file_request(
            session,
            prov.tenant_policy,
            pilot_id=pilot_id,
            kind=kind,
            value=value,
            justification="the cohort grew",
            filed_by="pi",
        ).id


DECIDED = OutboxMessage.kind == "request_decided"  # provisioning also queues "tenant ready"


def _rows(engine, model, *where):
    with session_scope(engine) as session:
        return list(session.exec(select(model).where(*where).order_by(col(model.id))).all())


def _actions(engine, pilot_id: str) -> list[str]:
    with session_scope(engine) as session:
        return [e.action for e in audit.events(session, action="change_request", subject=pilot_id)]


def test_an_approved_extension_moves_the_end_and_renews_the_credential(world):
    prov, cloud, engine = world
    with session_scope(engine) as session:
        end = session.get(Pilot, "S-1").planned_end
        old_credential = session.get(Tenant, "S-1").credential_id
    wanted = end + timedelta(days=60)
    request_id = _file(prov, "S-1", "extend", wanted.isoformat())

    decision = request_decisions.approve(prov, request_id, by="ops", reason="good progress")

    assert decision.request["status"] == "applied"
    assert any("application_credential" in step for step in decision.applied)
    with session_scope(engine) as session:
        assert session.get(Pilot, "S-1").planned_end == wanted
        tenant = session.get(Tenant, "S-1")
        assert tenant.credential_id != old_credential
    expires = cloud.tenants["ngc-s-1"].credential_expires_at
    assert expires.date() == wanted + timedelta(days=1)
    assert (prov.environments_dir / "S-1").is_dir()  # the bundle holds the renewed credential
    assert _actions(engine, "S-1") == [
        "change_request.filed",
        "change_request.approved",
        "change_request.applied",
    ]
    [notice] = _rows(engine, OutboxMessage, OutboxMessage.kind == "request_decided")
    assert notice.key == f"request-decided:{request_id}"
    assert notice.recipient == "s1@example.org"
    assert "godkendt" in notice.subject and "good progress" in notice.body


def test_an_approved_resize_sets_the_new_quotas(world):
    prov, cloud, engine = world
    request_id = _file(prov, "S-2", "resize", "medium")
    decision = request_decisions.approve(prov, request_id, by="ops", reason="ok")
    assert decision.request["status"] == "applied"
    medium = prov.tenant_policy.sizes["medium"]
    assert cloud.tenants["ngc-s-2"].quotas["compute_quota"]["cores"] == medium.cores
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-2").size == "medium"


def test_a_resize_that_does_not_fit_is_refused_with_the_numbers_and_nothing_changes(world):
    prov, cloud, engine = world
    small = InMemoryCloud(cores=200)  # two small tenants (64 each) fit; a large (768) does not
    small.tenants, small.domains, small.identities = cloud.tenants, cloud.domains, cloud.identities
    prov.backend_factory = lambda: small
    request_id = _file(prov, "S-2", "resize", "large")
    calls = small.mutating_calls
    with pytest.raises(InputError, match=r"does not fit: cores: tenants' quotas would total 832"):
        request_decisions.approve(prov, request_id, by="ops", reason="ok")
    [request] = _rows(engine, ChangeRequest)
    assert request.status == "pending"
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-2").size == "small"
    assert small.mutating_calls == calls
    assert _rows(engine, OutboxMessage, DECIDED) == []
    assert _actions(engine, "S-2") == ["change_request.filed"]


def test_a_rejected_request_tells_the_pi_and_changes_nothing_else(world):
    prov, cloud, engine = world
    request_id = _file(prov, "S-1", "resize", "large")
    calls = cloud.mutating_calls
    row = request_decisions.reject(prov, request_id, by="ops", reason="no capacity this year")
    assert row["status"] == "rejected" and row["decided_by"] == "ops"
    assert cloud.mutating_calls == calls
    [notice] = _rows(engine, OutboxMessage, DECIDED)
    assert "afvist" in notice.subject and "no capacity this year" in notice.body
    assert _actions(engine, "S-1")[-1] == "change_request.rejected"


def test_a_request_is_decided_only_once(world):
    prov, _, engine = world
    request_id = _file(prov, "S-1", "data_access")
    request_decisions.reject(prov, request_id, by="ops", reason="not yet")
    with pytest.raises(InputError, match="already decided"):
        request_decisions.approve(prov, request_id, by="ops", reason="changed my mind")
    with pytest.raises(InputError, match="already decided"):
        request_decisions.reject(prov, request_id, by="ops", reason="again")
    assert len(_rows(engine, OutboxMessage, DECIDED)) == 1


def test_an_approved_data_access_request_grants_the_role(world):
    prov, cloud, engine = world
    request_id = _file(prov, "S-1", "data_access")
    decision = request_decisions.approve(prov, request_id, by="ops", reason="DPA covers it")
    assert decision.request["status"] == "applied"
    assert "role:ngc-data-access" in cloud.tenants["ngc-s-1"].flags
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-1").data_access_granted_at is not None


def test_a_data_access_request_fails_visibly_when_keystone_lacks_the_role(world):
    prov, cloud, engine = world
    cloud.roles.discard("ngc-data-access")
    request_id = _file(prov, "S-1", "data_access")
    decision = request_decisions.approve(prov, request_id, by="ops", reason="ok")
    assert decision.request["status"] == "failed"
    assert "does not exist" in decision.request["error"]
    with session_scope(engine) as session:
        assert session.get(Tenant, "S-1").data_access_granted_at is None
    assert _actions(engine, "S-1")[-1] == "change_request.failed"


def test_an_approved_member_request_adds_the_member_through_the_members_service(world):
    prov, cloud, engine = world
    request_id = _file(prov, "S-1", "add_member", "co@example.org")
    decision = request_decisions.approve(prov, request_id, by="ops", reason="ok")
    assert decision.request["status"] == "applied" and decision.request["error"] is None
    assert "added through the members service" in decision.request["note"]
    assert any("member" in step for step in decision.applied)
    [(user_name, user)] = cloud.member_users.items()
    assert user_name.endswith(":co@example.org") and user.credential
    with session_scope(engine) as session:
        [row] = member_reads.list_members(session, "S-1")
        assert (row["email"], row["state"]) == ("co@example.org", "active")
    kinds = [m.kind for m in _rows(engine, OutboxMessage, OutboxMessage.pilot_id == "S-1")]
    assert "member_added" in kinds and "request_decided" in kinds
    assert _actions(engine, "S-1")[-1] == "change_request.applied"


def test_an_approved_member_request_fails_with_the_members_service_error(world):
    prov, cloud, engine = world
    members.add_member(prov, "S-1", "co@example.org")
    request_id = _file(prov, "S-1", "add_member", "co@example.org")
    decision = request_decisions.approve(prov, request_id, by="ops", reason="ok")
    assert decision.request["status"] == "failed"
    assert "already a member of S-1" in decision.request["error"]
    assert "not added" in decision.request["note"]
    assert len(cloud.member_users) == 1
    assert _actions(engine, "S-1")[-1] == "change_request.failed"


def test_data_access_is_refused_for_a_pilot_without_national_genome_data(world):
    prov, cloud, engine = world
    with session_scope(engine) as session, pytest.raises(InputError, match="national genome"):
        change_requests.file_request(
            session,
            prov.tenant_policy,
            pilot_id="S-2",
            kind="data_access",
            justification="please",
            filed_by="pi",
            lifecycle_policy=prov.lifecycle(),
        )
    assert _rows(engine, ChangeRequest) == []
    request_id = _file(prov, "S-2", "data_access")  # filed without the policy: refused at approval
    calls = cloud.mutating_calls
    with pytest.raises(InputError, match=r"never granted.*reject the request instead"):
        request_decisions.approve(prov, request_id, by="ops", reason="ok")
    [request] = _rows(engine, ChangeRequest)
    assert request.status == "pending" and cloud.mutating_calls == calls
    with session_scope(engine) as session:
        assert session.get(Pilot, "S-2").data_access_date is None
        assert session.get(Tenant, "S-2").data_access_granted_at is None
    assert _rows(engine, OutboxMessage, DECIDED) == []


def test_an_approved_data_access_request_sets_the_pilots_own_date_to_the_decision_day(world):
    prov, cloud, engine = world
    day = date.today()
    request_id = _file(prov, "S-1", "data_access")
    decision = request_decisions.approve(prov, request_id, by="ops", reason="ok", today=day)
    assert decision.request["status"] == "applied"
    with session_scope(engine) as session:
        assert session.get(Pilot, "S-1").data_access_date == day
        actions = [e.action for e in audit.events(session, subject="S-1")]
    assert "pilot.data_access_date_set" in actions and "tenant.data_access_granted" in actions
    report = lifecycle.switch_data_access(prov, today=day)  # the switch sees it granted
    assert [s["status"] for s in report.skipped if s["pilot"] == "S-1"] == ["granted"]


def test_request_decisions_are_the_template_in_the_pis_language(world):
    prov, _, engine = world
    da = _file(prov, "S-1", "resize", "medium")
    en = _file(prov, "S-2", "extend", "2099-01-01")
    request_decisions.reject(prov, da, by="ops", reason="no room")
    request_decisions.reject(prov, en, by="ops", reason="too long")
    notices = {m.pilot_id: m for m in _rows(engine, OutboxMessage, DECIDED)}
    assert notices["S-1"].language == "da" and notices["S-2"].language == "en"
    assert notices["S-1"].subject == f"S-1: din anmodning #{da} er afvist"
    assert (
        "Kære PI 1" in notices["S-1"].body
        and "ændring af størrelse til medium" in notices["S-1"].body
    )
    assert notices["S-2"].subject == f"S-2: your request #{en} has been rejected"
    assert (
        "Dear PI 2" in notices["S-2"].body and "an extension to 2099-01-01" in notices["S-2"].body
    )
    for notice in notices.values():
        assert "{{" not in notice.body and prov.tenant_policy.tenancy.support_contact in notice.body


@pytest.mark.parametrize(
    ("pilot_id", "kind", "value", "field"),
    [
        ("NOPE", "extend", "2030-01-01", "pilot"),
        ("S-1", "extend", "2020-01-01", "end date"),
        ("S-1", "extend", "tomorrow", "end date"),
        ("S-1", "resize", "huge", "size"),
        ("S-1", "resize", "small", "size"),
        ("S-1", "add_member", "not-an-address", "member e-mail"),
    ],
)
def test_bad_requests_are_refused_naming_the_field_and_nothing_is_written(
    world, pilot_id, kind, value, field
):
    prov, _, engine = world
    with pytest.raises(InputError) as caught:
        _file(prov, pilot_id, kind, value)
    [problem] = caught.value.problems
    assert problem.field == field
    assert problem.value == (pilot_id if field == "pilot" else value)
    assert _rows(engine, ChangeRequest) == []
    assert _rows(engine, AuditEvent, col(AuditEvent.action).startswith("change_request")) == []


def test_a_torn_down_tenant_takes_no_requests(world):
    prov, _, engine = world
    provisioning.teardown(prov, "S-2")
    with pytest.raises(InputError, match="torn down"):
        _file(prov, "S-2", "extend", "2099-01-01")
    assert _rows(engine, ChangeRequest) == []


def test_an_unknown_request_id_is_not_found(world):
    prov, _, _ = world
    with pytest.raises(NotFoundError, match="no change request"):
        request_decisions.approve(prov, 999, by="ops", reason="x")


# ----------------------------------------------------------------------- CLI


@pytest.fixture
def seeded(database):
    engine = seed_pilots(database.url, ["P-1"])
    yield engine
    engine.dispose()


def test_cli_files_lists_and_rejects(seeded, cli):
    filed = cli(
        "requests",
        "file",
        "P-1",
        "--add-member",
        "co@example.org",
        "--justification",
        "x",
        "--json",
    )
    assert filed.code == 0, filed.err
    request_id = filed.json()["id"]
    listed = cli("requests", "list", "--status", "pending", "--json").json()
    assert [(r["id"], r["kind"], r["value"]) for r in listed] == [
        (request_id, "add_member", "co@example.org")
    ]
    assert "1 request(s)" in cli("requests", "list", "--pilot", "P-1").out
    rejected = cli("requests", "reject", str(request_id), "--reason", "no", "--json")
    assert rejected.code == 0, rejected.err
    assert rejected.json()["status"] == "rejected"
    again = cli("requests", "approve", str(request_id), "--reason", "yes")
    assert again.code == 2 and "already decided" in again.err


def test_cli_approves_an_extension_of_a_pilot_without_a_tenant(seeded, cli):
    filed = cli(
        "requests", "file", "P-1", "--extend-to", "2021-12-31", "--justification", "x", "--json"
    )
    request_id = filed.json()["id"]
    approved = cli(
        "requests", "approve", str(request_id), "--reason", "fine", "--by", "Ops Lead", "--json"
    )
    assert approved.code == 0, approved.err
    row = approved.json()
    assert row["status"] == "approved" and row["decided_by"] == "Ops Lead"
    assert "when it is provisioned" in row["note"]
    with session_scope(seeded) as session:
        assert session.get(Pilot, "P-1").planned_end == date(2021, 12, 31)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["NOPE", "--data-access"], "pilot = 'NOPE'"),
        (["P-1", "--extend-to", "2021-08-31"], "--extend-to = '2021-08-31'"),
        (["P-1", "--size", "huge"], "--size = 'huge'"),
        (["P-1", "--add-member", "x@"], "--add-member = 'x@'"),
        (["P-1", "--size", "medium", "--data-access"], "exactly one of"),
        (["P-1", "--size", "medium"], "has no tenant yet"),
        (["P-1", "--data-access"], "has no tenant yet"),
        (["P-1", "--add-member", "a@example.org", "--role", "admin"], "--role = 'admin'"),
        (["P-1", "--add-member", "a@example.org", "--language", "fr"], "--language = 'fr'"),
        (["P-1", "--add-member", "a@example.org", "--name", " "], "--name = ' '"),
        (["P-1", "--add-member", "a@example.org", "--name", "x" * 201], "--name = 'xxx"),
        (["P-1", "--extend-to", "2021-12-31", "--role", "reader"], "--role = 'reader'"),
        (["P-1", "--data-access", "--name", "Ann"], "--name = 'Ann'"),
    ],
)
def test_cli_bad_input_is_one_clear_line_exit_2_nothing_written(seeded, cli, args, named):
    result = cli("requests", "file", *args, "--justification", "x")
    assert result.code == 2
    assert named in result.err
    assert "1 problem" in result.err or "exactly one of" in result.err, result.err
    assert cli("requests", "list", "--json").json() == []


def test_cli_files_a_member_request_with_name_role_and_language(seeded, cli):
    filed = cli(
        "requests",
        "file",
        "P-1",
        "--add-member",
        "Rita@Example.org",
        "--name",
        "Rita Reader",
        "--role",
        "reader",
        "--language",
        "en",
        "--justification",
        "reads the results",
    )
    assert filed.code == 0, filed.err
    assert "(reader)" in filed.out
    [row] = cli("requests", "list", "--json").json()
    assert row["member"] == {"name": "Rita Reader", "role": "reader", "language": "en"}
    plain = cli("requests", "file", "P-1", "--add-member", "mo@example.org", "--justification", "x")
    assert plain.code == 0, plain.err
    extend = cli("requests", "file", "P-1", "--extend-to", "2021-12-31", "--justification", "x")
    assert extend.code == 0, extend.err
    rows = cli("requests", "list", "--json").json()
    assert [r["member"] for r in rows[1:]] == [
        {"name": None, "role": "member", "language": "da"},
        None,
    ]
    with session_scope(seeded) as session:
        roles = [
            e.details.get("member_role")
            for e in audit.events(session, action="change_request.filed")
        ]
        assert sorted(r for r in roles if r) == ["member", "reader"]


def test_an_extension_resumes_a_tenant_suspended_because_its_period_ended(world):
    prov, cloud, engine = world
    with session_scope(engine) as session:
        end = session.get(Pilot, "S-1").planned_end
    lifecycle.expire(prov, today=end + timedelta(days=1))
    assert cloud.tenants["ngc-s-1"].enabled is False
    request_id = _file(prov, "S-1", "extend", (end + timedelta(days=30)).isoformat())

    decision = request_decisions.approve(
        prov, request_id, by="ops", reason="late samples", today=end + timedelta(days=2)
    )

    assert decision.request["status"] == "applied"
    assert cloud.tenants["ngc-s-1"].enabled is True
    small = prov.tenant_policy.sizes["small"]
    assert cloud.tenants["ngc-s-1"].quotas["compute_quota"]["cores"] == small.cores
    expires = cloud.tenants["ngc-s-1"].credential_expires_at
    assert expires.date() == end + timedelta(days=31)
    with session_scope(engine) as session:
        tenant = session.get(Tenant, "S-1")
        assert tenant.state == "active" and tenant.suspended_at is None
    assert cloud.tenants["ngc-s-2"].enabled is False  # the other tenant stays suspended


def test_of_two_deciders_at_the_same_moment_exactly_one_decides(world, database, monkeypatch):
    """Both read the request as pending; the status changes only while pending, so
    the second decision is refused and the PI gets one notice."""
    import threading

    if database.backend == "sqlite":
        pytest.skip("SQLite serialises writers with a lock; the race needs PostgreSQL")
    prov, _, engine = world
    request_id = _file(prov, "S-1", "add_member", "co@example.org")
    both_read = threading.Barrier(2, timeout=60)
    load = request_decisions._load

    def load_then_wait(session, rid):
        found = load(session, rid)
        both_read.wait()
        return found

    monkeypatch.setattr(request_decisions, "_load", load_then_wait)
    outcomes: list[str] = []

    def decide(verdict) -> None:
        try:
            verdict()
            outcomes.append("decided")
        except InputError as exc:
            outcomes.append(str(exc))

    threads = [
        threading.Thread(
            target=decide,
            args=(lambda: request_decisions.reject(prov, request_id, by="a", reason="no"),),
        ),
        threading.Thread(
            target=decide,
            args=(lambda: request_decisions.approve(prov, request_id, by="b", reason="yes"),),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0] == "decided"
    assert "already decided" in sorted(outcomes)[1]
    assert len(_rows(engine, OutboxMessage, DECIDED)) == 1
    decided = [a for a in _actions(engine, "S-1") if a != "change_request.filed"]
    assert len(decided) == 1


def test_the_facade_files_and_approves_a_resize_with_the_steps_applied(world):
    from ngc_pilot.facade import Services

    prov, cloud, engine = world
    services = Services(
        engine=engine,
        policy=parse_policy(default_policy_path().read_text()),
        actor="ops",
        provisioner=lambda: prov,
    )
    filed = services.file_request("S-2", "resize", "medium", "the cohort grew")
    assert (filed.status, filed.filed_by) == ("pending", "ops")
    decided = services.approve_request_applying(filed.id, "ok")
    assert decided.request.status == "applied" and decided.applied
    row = decided.request.as_dict()
    assert (row["pilot"], row["kind"], row["value"], row["decided_by"]) == (
        "S-2",
        "resize",
        "medium",
        "ops",
    )
    assert [(r.id, r.status) for r in services.requests(pilot_id="S-2")] == [(filed.id, "applied")]
