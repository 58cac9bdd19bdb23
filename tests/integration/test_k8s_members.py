"""Members' own Kubernetes access against the Kubernetes API emulator.

A member of a pilot with a namespace gets their own ServiceAccount and
TokenRequest token, as their own ``kubeconfig`` in their own bundle (sealed to
their age key); removal deletes the account, so the token gets 401, and
``tenants verify`` says so; the nomination's roster and an approved
add-member request (with its name and role) get the same.

Kubernetes is a private devcloud Kubernetes API emulator per test; OpenStack is
``provisioner.testing.InMemoryCloud`` (the members' OpenStack half is tested
against devcloud in ``test_members_devcloud.py``), as in ``test_k8s_tenants``.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import tarfile
from pathlib import Path

import pyrage
import pytest
import yaml
from sqlalchemy import text
from sqlmodel import SQLModel
from test_k8s_tenants import world  # noqa: F401 - the fixture

from ngc_pilot import change_requests, member_reads, members, provisioning, request_decisions
from ngc_pilot.db import session_scope
from ngc_pilot.models import Application, Pilot
from provisioner.kubernetes.connection import load
from provisioner.kubernetes.names import member_service_account

NAMESPACE = "ngc-s-2"  # S-2 has both platforms; S-1 only a namespace


def _token(config: Path) -> str:
    return yaml.safe_load(config.read_text())["users"][0]["user"]["token"]


def _status(config: Path, namespace: str = NAMESPACE) -> int:
    """HTTP status of listing pods in ``namespace`` with ``config``'s token (200: allowed)."""
    cluster = load(config)
    try:
        cluster.core().list_namespaced_pod(namespace)
        return 200
    except Exception as exc:  # noqa: BLE001 - the status is what is asserted
        return int(getattr(exc, "status", 0) or 0)
    finally:
        cluster.close()


def _accounts_and_subjects(admin: Path) -> tuple[set[str], set[str]]:
    cluster = load(admin)
    try:
        accounts = {
            a.metadata.name for a in cluster.core().list_namespaced_service_account(NAMESPACE).items
        }
        binding = cluster.rbac().read_namespaced_role_binding("ngc-researchers", NAMESPACE)
        return accounts, {s.name for s in binding.subjects}
    finally:
        cluster.close()


def _everything_in_the_database(engine) -> str:
    with engine.connect() as connection:
        return "\n".join(
            str(row)
            for table in SQLModel.metadata.sorted_tables
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"'))
        )


def _files_holding(root: Path, secret: str) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()}


def test_a_member_gets_their_own_kubeconfig_sealed_in_their_bundle_and_removal_gets_401(
    world,  # noqa: F811
    tmp_path,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    prov, engine, admin = world
    provisioning.provision(prov)
    identity = pyrage.x25519.Identity.generate()
    email = "ann@example.org"

    added = members.add_member(
        prov, "S-2", email, name="Ann", age_recipient=str(identity.to_public())
    )
    assert (added.state, added.kubeconfig, added.encrypted) == ("active", True, True)
    folder = prov.environments_dir / "S-2" / "members" / email
    config = folder / "kubeconfig"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    account = member_service_account(email)
    accounts, subjects = _accounts_and_subjects(admin)
    assert account in accounts and account in subjects

    # their own token, not the PI's: works in their namespace, refused elsewhere
    token = _token(config)
    assert token != _token(prov.environments_dir / "S-2" / "kubeconfig")
    assert _status(config) == 200
    assert _status(config, "ngc-s-1") == 403
    readme = (folder / "README.md").read_text()
    assert "clouds.yaml" in readme and "## Kubernetes" in readme
    assert f"your own service account\n`{account}`" in readme

    # the sealed bundle holds the same kubeconfig; in plain text it is nowhere else
    plain = pyrage.decrypt((folder / "bundle.tar.age").read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert tar.extractfile("ngc-pilot/kubeconfig").read() == config.read_bytes()
        assert "## Kubernetes" in tar.extractfile("ngc-pilot/README.md").read().decode()
    assert _files_holding(tmp_path, token) == {config}
    assert token not in _everything_in_the_database(engine)
    assert token not in caplog.text
    with session_scope(engine) as session:
        [row] = member_reads.list_members(session, "S-2")
        assert row["kube_token_expires_at"] is not None

    removed = members.remove_member(prov, "S-2", email, reason="left")
    assert removed.state == "removed", removed.report
    # measured, not asserted (goals: add and remove each <= 3 s)
    print(
        f"\nmember add {added.seconds:.2f} s, remove {removed.seconds:.2f} s "
        f"(OpenStack in memory + Kubernetes emulator; load {os.getloadavg()[0]:.2f})"
    )
    accounts, subjects = _accounts_and_subjects(admin)
    assert account not in accounts and account not in subjects
    kept = prov.environments_dir / "S-2" / "members-removed" / email / "kubeconfig"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert _status(kept) == 401
    assert not folder.exists()

    probes = provisioning.verify(prov)
    revoked = [p for p in probes if p.what == "revoked kubernetes token"]
    assert [(p.from_pilot, p.target, p.leaked) for p in revoked] == [
        ("S-2", f"removed member {email}", False)
    ]
    assert "401" in revoked[0].detail
    assert not [p for p in probes if p.leaked]


def test_verify_reports_a_removed_members_token_that_still_works_as_a_leak(world):  # noqa: F811
    prov, engine, admin = world
    provisioning.provision(prov)
    members.add_member(prov, "S-2", "bo@example.org")
    folder = prov.environments_dir / "S-2" / "members" / "bo@example.org"
    # a removal that forgot Kubernetes: the bundle retired, the account left in place
    gone = prov.environments_dir / "S-2" / "members-removed" / "bo@example.org"
    gone.mkdir(parents=True)
    (gone / "kubeconfig").write_bytes((folder / "kubeconfig").read_bytes())
    revoked = [p for p in provisioning.verify(prov) if p.what == "revoked kubernetes token"]
    assert [(p.target, p.leaked) for p in revoked] == [("removed member bo@example.org", True)]


def test_the_nominations_roster_gets_their_own_kubeconfigs_at_provisioning(world):  # noqa: F811
    prov, engine, admin = world
    with session_scope(engine) as session:
        app = session.get(Application, session.get(Pilot, "S-2").application_id)
        app.document = {
            **app.document,
            "members": [{"email": "cy@example.org", "name": "Cy", "role": "member"}],
        }
        session.add(app)
    outcomes = provisioning.provision(prov)
    assert all(o.state == "active" for o in outcomes)
    config = prov.environments_dir / "S-2" / "members" / "cy@example.org" / "kubeconfig"
    assert _status(config) == 200
    # a re-run issues no second token and changes nothing
    before = config.read_bytes()
    again = provisioning.provision(prov)
    assert all(o.mutating_calls == 0 for o in again if o.platform == "kubernetes")
    assert config.read_bytes() == before


def test_an_approved_request_with_name_and_role_adds_the_member_so(world):  # noqa: F811
    prov, engine, admin = world
    provisioning.provision(prov)
    with session_scope(engine) as session:
        request_id = change_requests.file_request(
            session,
            prov.tenant_policy,
            pilot_id="S-2",
            kind="add_member",
            value="dee@example.org",
            justification="a new analyst",
            filed_by="pi",
            member_name="Dee Analyst",
            member_role="reader",
            member_language="en",
        ).id
    decision = request_decisions.approve(prov, request_id, by="ops", reason="ok")
    assert decision.request["status"] == "applied", decision.request
    assert decision.request["member"] == {
        "name": "Dee Analyst",
        "role": "reader",
        "language": "en",
    }
    with session_scope(engine) as session:
        [row] = member_reads.list_members(session, "S-2")
    assert (row["name"], row["role"], row["language"], row["state"]) == (
        "Dee Analyst",
        "reader",
        "en",
        "active",
    )
    config = prov.environments_dir / "S-2" / "members" / "dee@example.org" / "kubeconfig"
    assert _status(config) == 200
    # a reader in Kubernetes too: bound to the read-only role, not the researchers'
    reader = load(config)
    try:
        for call in (
            lambda: reader.core().list_namespaced_secret(NAMESPACE),
            lambda: reader.core().create_namespaced_config_map(
                NAMESPACE, {"metadata": {"name": "x"}, "data": {}}
            ),
        ):
            with pytest.raises(Exception) as refused:
                call()
            assert getattr(refused.value, "status", None) == 403
    finally:
        reader.close()
    accounts, subjects = _accounts_and_subjects(admin)
    assert member_service_account("dee@example.org") not in subjects
    # the last reader removed: their binding goes too
    assert members.remove_member(prov, "S-2", "dee@example.org").state == "removed"
    cluster = load(admin)
    try:
        bindings = cluster.rbac().list_namespaced_role_binding(NAMESPACE).items
        assert [b.metadata.name for b in bindings] == ["ngc-researchers"]
    finally:
        cluster.close()
    assert (
        _status(config.parent.parent.parent / "members-removed" / "dee@example.org" / "kubeconfig")
        == 401
    )


def test_a_member_added_before_the_namespace_exists_gets_theirs_when_it_is_made(
    world,  # noqa: F811
):
    prov, engine, admin = world
    provisioning.provision(prov, ["S-2"], platform="openstack")
    added = members.add_member(prov, "S-2", "eve@example.org")
    assert added.state == "active" and not added.kubeconfig
    provisioning.provision(prov, ["S-2"], platform="kubernetes")
    config = prov.environments_dir / "S-2" / "members" / "eve@example.org" / "kubeconfig"
    assert _status(config) == 200


def test_a_member_of_a_pilot_with_only_a_namespace_gets_and_loses_their_own_access(
    world,  # noqa: F811
):
    prov, engine, admin = world
    with session_scope(engine) as session:
        app = session.get(Application, session.get(Pilot, "S-1").application_id)
        app.document = {**app.document, "members": [{"email": "fay@example.org"}]}
        session.add(app)
    provisioning.provision(prov)  # S-1 has a namespace and no OpenStack project
    roster = prov.environments_dir / "S-1" / "members" / "fay@example.org" / "kubeconfig"
    assert _status(roster, "ngc-s-1") == 200
    added = members.add_member(prov, "S-1", "gus@example.org", language="en")
    assert (added.state, added.kubeconfig) == ("active", True)
    config = prov.environments_dir / "S-1" / "members" / "gus@example.org" / "kubeconfig"
    assert _status(config, "ngc-s-1") == 200
    assert "## Kubernetes" in (config.parent / "README.md").read_text()
    removed = members.remove_member(prov, "S-1", "gus@example.org")
    assert removed.state == "removed", removed.report
    kept = config.parent.parent.parent / "members-removed" / "gus@example.org" / "kubeconfig"
    assert _status(kept, "ngc-s-1") == 401
    with session_scope(engine) as session:
        listed = member_reads.list_members(session, "S-1", include_removed=True)
    assert [(m["email"], m["state"]) for m in listed] == [
        ("fay@example.org", "active"),
        ("gus@example.org", "removed"),
    ]
    revoked = [p for p in provisioning.verify(prov) if p.what == "revoked kubernetes token"]
    assert [(p.from_pilot, p.leaked) for p in revoked] == [("S-1", False)]
