"""``plan_member`` / ``plan_member_removal`` on the in-memory cloud, and the key checks (no I/O)."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from policies.member_keys import check_age_recipient, check_ssh_key
from policies.tenancy import load_tenant_policy
from provisioner.apply import apply
from provisioner.backend import ForeignResourceError
from provisioner.desired import desired_tenant
from provisioner.members import desired_member, plan_member, plan_member_removal
from provisioner.plan import plan
from provisioner.testing import InMemoryCloud


def _tenant(pilot_id: str = "P-1"):
    return desired_tenant(
        pilot_id=pilot_id,
        pilot_name="Pilot",
        pi_email="pi@example.org",
        size="small",
        cidr="10.20.0.0/24",
        end=date(2030, 1, 1),
        policy=load_tenant_policy(),
    )


def _live(pilot_id: str = "P-1"):
    cloud, desired = InMemoryCloud(), _tenant(pilot_id)
    assert apply(plan(desired, cloud.observe(desired)), desired, cloud).ok
    return cloud, desired


def test_a_member_plan_converges_and_a_second_plan_is_empty():
    cloud, desired = _live()
    dm = desired_member(desired, "Ann@Example.org", "member")
    first = plan_member(desired, dm, cloud.observe_member(desired, dm), credential_delivered=False)
    assert [c.resource for c in first.changes] == [
        "member_user",
        "member_group",
        "member_application_credential",
    ]
    assert apply(first, desired, cloud).ok
    again = plan_member(desired, dm, cloud.observe_member(desired, dm), credential_delivered=True)
    assert again.empty


def test_a_reader_gets_the_reader_role_and_a_credential_carrying_it():
    cloud, desired = _live()
    dm = desired_member(desired, "r@example.org", "reader")
    changes = plan_member(
        desired, dm, cloud.observe_member(desired, dm), credential_delivered=False
    )
    by = {c.resource: c for c in changes.changes}
    assert "member_group" not in by and by["member_role"].detail["role"] == "reader"
    assert by["member_application_credential"].detail["role"] == "reader"


def test_removal_deletes_credential_then_user_and_revokes_the_secret():
    cloud, desired = _live()
    dm = desired_member(desired, "b@example.org", "member")
    secrets = []
    the_plan = plan_member(
        desired, dm, cloud.observe_member(desired, dm), credential_delivered=False
    )
    apply(the_plan, desired, cloud, on_secret=lambda s, r: secrets.append((r.resource_id, s)))
    [(cid, secret)] = secrets
    assert cloud.token_works({"id": cid, "secret": secret.reveal()})
    removal = plan_member_removal(desired, dm, cloud.observe_member(desired, dm))
    assert [(c.action, c.resource) for c in removal.changes] == [
        ("delete", "member_application_credential"),
        ("delete", "member_user"),
    ]
    assert apply(removal, desired, cloud).ok
    assert not cloud.token_works({"id": cid, "secret": secret.reveal()})
    assert plan_member_removal(desired, dm, cloud.observe_member(desired, dm)).empty


def test_a_member_is_never_added_to_another_pilots_project():
    cloud, _ = _live("P-1")
    other = _tenant("p-1")  # folds to the same project name, another owner
    dm = desired_member(other, "x@example.org", "member")
    with pytest.raises(ForeignResourceError):
        plan_member(other, dm, cloud.observe_member(other, dm), credential_delivered=False)
    with pytest.raises(ForeignResourceError):
        plan_member_removal(other, dm, cloud.observe_member(other, dm))


def test_age_recipients_are_checked_with_their_checksum():
    good = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    assert check_age_recipient(f"  {good} ") == good
    for bad in ("age1", good[:-1] + "q", "AGE1" + good[4:].lower() + "X", "ssh-ed25519 AAAA"):
        with pytest.raises(ValueError, match="age public key"):
            check_age_recipient(bad)


def test_ssh_keys_must_be_one_public_key_line_whose_data_matches_its_type():
    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + bytes(32)
    line = f"ssh-ed25519 {base64.b64encode(blob).decode()} me@host"
    assert check_ssh_key(line + "\n") == line
    wrong_type = "ssh-rsa " + line.split()[1]
    for bad in (
        wrong_type,
        "ssh-ed25519 !!!",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        line + "\nx y",
    ):
        with pytest.raises(ValueError, match="OpenSSH public key"):
            check_ssh_key(bad)
