"""Members on the in-memory cloud: own user and credential, encrypted bundle, notice, revocation.

The cloud is ``provisioner.testing.InMemoryCloud`` (a crash between the
credential and the notice cannot be caused on cue in a real OpenStack); the
same flow runs against devcloud in ``tests/integration/test_members_devcloud.py``.
"""

from __future__ import annotations

import io
import stat
import tarfile
from datetime import date, timedelta

import pyrage
import pytest
from sqlmodel import select
from support.records import record

from ngc_pilot import audit, intake, member_reads, members, provisioning, selection
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.member_models import Member
from ngc_pilot.models import OutboxMessage
from policies.nomination import Nomination
from policies.selection_policy import default_policy_path, parse_policy
from policies.tenancy import load_tenant_policy
from provisioner.testing import InMemoryCloud

pytestmark = pytest.mark.migrated


@pytest.fixture
def live(database, tmp_path):
    """One committed pilot, S-1, with an active tenant on the in-memory cloud."""
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
            id=f"S-{n}",
            institution=i,
            principal_investigator={"name": i, "email": f"{i}@example.org"},
        )
        for n, i in ((1, "A"), (2, "B"), (3, "C"))
    ]
    records[1]["members"] = [
        {"email": "Eve@Example.org", "name": "Eve", "language": "en"},
        {"email": "finn@example.org", "role": "reader"},
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
    [outcome] = provisioning.provision(prov, ["S-1"])
    assert outcome.state == "active"
    yield prov, cloud, engine
    engine.dispose()


def _outbox(engine):
    with session_scope(engine) as session:
        return [
            (m.key, m.kind, m.recipient, m.subject, m.body)
            for m in session.exec(select(OutboxMessage)).all()
            if m.kind != "tenant_ready"  # queued by provisioning
        ]


def test_an_added_member_gets_their_own_user_credential_encrypted_bundle_and_notice(live):
    prov, cloud, engine = live
    identity = pyrage.x25519.Identity.generate()
    out = members.add_member(
        prov,
        "S-1",
        "Ann@Example.org",
        name="Ann",
        language="en",
        age_recipient=str(identity.to_public()),
    )
    assert out.state == "active" and out.encrypted
    [(user_name, user)] = cloud.member_users.items()
    assert user_name.endswith(":ann@example.org")
    assert user.credential and user.groups == {prov_group(prov)}
    folder = prov.environments_dir / "S-1" / "members" / "ann@example.org"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    plain = pyrage.decrypt((folder / "bundle.tar.age").read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        clouds = tar.extractfile("ngc-pilot/clouds.yaml").read().decode()
    assert f"secret-{user.credential}" in clouds
    [(key, kind, to, subject, body)] = _outbox(engine)
    assert (key, kind, to) == (
        "member-added:S-1:ann@example.org",
        "member_added",
        "ann@example.org",
    )
    assert "added to the project ngc-s-1" in subject
    assert "secret-" not in body and "bundle.tar.age" in body
    assert body.startswith("Dear Ann\n") and "with the role member." in body  # English template
    assert "Your personal access expires at" in body and "{{" not in body
    with session_scope(engine) as session:
        events = [e.action for e in audit.events(session, subject="S-1")]
        assert "member.added" in events
        assert all("secret-" not in str(e.details) for e in audit.events(session))
        [row] = member_reads.list_members(session, "S-1")
        assert row["email"] == "ann@example.org" and row["state"] == "active"


def prov_group(prov):
    return f"{prov.tenant_policy.tenancy.project_prefix}s-1-members"


def test_a_reader_is_not_in_the_group_and_a_keyless_member_is_told_to_collect(live):
    prov, cloud, engine = live
    out = members.add_member(prov, "S-1", "rita@example.org", role="reader")
    assert out.state == "active" and not out.encrypted
    [user] = cloud.member_users.values()
    assert "reader" in user.roles and not user.groups
    assert not (
        prov.environments_dir / "S-1" / "members" / "rita@example.org" / "bundle.tar.age"
    ).exists()
    [(_, _, _, subject, body)] = _outbox(engine)
    # Danish by default (the template), collect in person, the role in Danish
    assert "driften" in body and "tilføjet til projektet" in subject
    assert "med rollen læser (kun læseadgang)." in body and "{{" not in body


def test_removal_revokes_at_once_and_verify_proves_the_credential_is_refused(live):
    prov, cloud, engine = live
    members.add_member(prov, "S-1", "bob@example.org")
    folder = prov.environments_dir / "S-1" / "members" / "bob@example.org"
    from provisioner.member_bundle import read_member_credential

    credential = read_member_credential(folder)
    assert cloud.token_works(credential)
    out = members.remove_member(prov, "S-1", "bob@example.org", reason="left the group")
    assert out.state == "removed" and not cloud.member_users
    assert not cloud.token_works(credential) and not folder.exists()
    probes = [p for p in provisioning.verify(prov) if p.what == "revoked credential"]
    assert [(p.target, p.leaked) for p in probes] == [("removed member bob@example.org", False)]
    kinds = [k for _, k, *_ in _outbox(engine)]
    assert kinds == ["member_added", "member_removed"]
    [(key, _, _, subject, body)] = [row for row in _outbox(engine) if row[1] == "member_removed"]
    assert key == "member-removed:S-1:bob@example.org"
    assert "er fjernet" in subject and body.startswith("Kære bob@example.org\n")
    assert prov.tenant_policy.tenancy.support_contact in body and "{{" not in body
    with session_scope(engine) as session:
        assert member_reads.list_members(session, "S-1") == []
        [row] = member_reads.list_members(session, "S-1", include_removed=True)
        assert row["state"] == "removed" and row["removed_at"]
    again = members.add_member(prov, "S-1", "bob@example.org")  # re-added: a new row, a new key
    assert again.state == "active" and again.notice.startswith("member-added:S-1:bob@example.org:")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("NOPE", "a@example.org"), "pilot"),
        (("S-1", "not-an-email"), "email"),
        (("S-1", "a@example.org", {"role": "owner"}), "role"),
        (("S-1", "a@example.org", {"language": "de"}), "language"),
        (("S-1", "a@example.org", {"age_recipient": "age1nothing"}), "age recipient"),
        (("S-1", "a@example.org", {"ssh_key": "ssh-ed25519 bm90IGEga2V5"}), "ssh key"),
    ],
)
def test_bad_input_changes_nothing(live, args, field):
    prov, cloud, engine = live
    kwargs = args[2] if len(args) > 2 else {}
    with pytest.raises(InputError) as err:
        members.add_member(prov, args[0], args[1], **kwargs)
    assert err.value.problems[0].field == field
    assert not cloud.member_users and not _outbox(engine)
    with session_scope(engine) as session:
        assert session.exec(select(Member)).all() == []


def test_removing_an_unknown_member_is_refused(live):
    prov, _, _ = live
    with pytest.raises(InputError, match="not a member"):
        members.remove_member(prov, "S-1", "ghost@example.org")


def test_a_crash_between_credential_and_notice_loses_neither(live):
    prov, cloud, engine = live

    class Crash(Exception):
        pass

    def crash(pilot, step, index, total):
        if "member_application_credential" in step:
            raise Crash

    with pytest.raises(Crash):
        members.add_member(prov, "S-1", "cid@example.org", progress=crash)
    [user] = cloud.member_users.values()
    first = user.credential
    assert first and not _outbox(engine)
    out = members.add_member(prov, "S-1", "cid@example.org")  # resumes
    assert out.state == "active" and out.changes == []
    assert user.credential == first  # the bundle holds it: not made twice
    assert [k for k, *_ in _outbox(engine)] == ["member-added:S-1:cid@example.org"]


def test_teardown_revokes_every_member_first(live):
    prov, cloud, engine = live
    members.add_member(prov, "S-1", "dan@example.org", role="reader")
    outcome = provisioning.teardown(prov, "S-1", reason="done")
    assert outcome.report.ok and not cloud.member_users
    assert not (prov.environments_dir / "S-1").exists()


def test_the_members_a_nomination_lists_get_access_when_the_tenant_is_provisioned(live):
    prov, cloud, engine = live
    [outcome] = provisioning.provision(prov, ["S-2"])
    assert outcome.state == "active"
    with session_scope(engine) as session:
        rows = member_reads.list_members(session, "S-2")
    assert [(r["email"], r["role"], r["state"]) for r in rows] == [
        ("eve@example.org", "member", "active"),
        ("finn@example.org", "reader", "active"),
    ]
    assert sorted(k for k, *_ in _outbox(engine)) == [
        "member-added:S-2:eve@example.org",
        "member-added:S-2:finn@example.org",
    ]
    members.remove_member(prov, "S-2", "finn@example.org")
    before = cloud.mutating_calls
    provisioning.provision(prov, ["S-2"])  # converged; a removed member is not added back
    assert cloud.mutating_calls == before


def _ed25519_line(comment: str = "me@laptop") -> str:
    import base64
    import os

    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + os.urandom(32)
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def test_a_members_ssh_key_becomes_a_keypair_and_a_bastion_line_until_removed(live):
    prov, cloud, engine = live
    key = _ed25519_line()
    members.add_member(prov, "S-1", "gry@example.org", ssh_key=key)
    [user] = cloud.member_users.values()
    assert user.keypair == "ngc-s-1-gry-at-example-org"
    allow = prov.bastion_keys()
    text = allow.read_text()
    assert (
        f"restrict,port-forwarding {' '.join(key.split()[:2])} ngc-pilot:S-1:gry@example.org"
        in text
    )
    assert stat.S_IMODE(allow.stat().st_mode) == 0o644
    members.add_member(prov, "S-1", "hal@example.org")  # no key: no line
    assert allow.read_text().count("ngc-pilot:S-1:") == 1
    members.remove_member(prov, "S-1", "gry@example.org")
    assert "gry@example.org" not in allow.read_text()
    before = cloud.mutating_calls
    provisioning.provision(prov, ["S-1"])  # the tenant (its security group) is unchanged
    assert cloud.mutating_calls == before


def test_the_facade_lists_adds_and_removes_members(live):
    from ngc_pilot.facade import Services
    from policies.selection_policy import default_policy_path, parse_policy

    prov, cloud, engine = live
    services = Services(
        engine=engine,
        policy=parse_policy(default_policy_path().read_text()),
        actor="tester",
        provisioner=lambda: prov,
    )
    added = services.add_member("S-1", "ivy@example.org", role="reader", language="en")
    assert added.state == "active" and added.ok and added.applied and added.failed_step is None
    assert added.as_dict()["email"] == "ivy@example.org"
    assert [m["email"] for m in services.members("S-1")] == ["ivy@example.org"]
    assert services.remove_member("S-1", "ivy@example.org").state == "removed"
    assert services.members("S-1") == []
