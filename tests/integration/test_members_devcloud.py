"""Members against the real local OpenStack: own credential works, removal revokes it.

Adds a member to a live tenant with ``ngc-pilot members add`` (a separate
process), gets a token with the member's own credential through the real
``openstack`` CLI, removes them, and sees the same credential refused, then
``tenants verify`` proves it.  The add and remove times are printed against
the goals (≤ 3 s each); they are measured, not asserted.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pyrage
import pytest
import yaml
from conftest import Pilot, openstack, small


@pytest.fixture
def live(pilot: Pilot):
    pid = f"ITM{uuid.uuid4().hex[:6].upper()}"
    pilot.nominate(small(pid))
    result = pilot.json("provision", pid)
    assert [t["state"] for t in result["tenants"]] == ["active"]
    yield pilot, pid
    pilot.run("teardown", pid, "--yes")


def _token(clouds: Path, cloud: str) -> subprocess.CompletedProcess[str]:
    return openstack(clouds, "token", "issue", "-f", "value", "-c", "id", cloud=cloud, check=False)


def test_a_member_gets_their_own_working_credential_and_removal_revokes_it(live, tmp_path):
    pilot, pid = live
    identity = pyrage.x25519.Identity.generate()
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    email = "ann.member@example.org"

    started = time.perf_counter()
    added = pilot.json(
        "members",
        "add",
        pid,
        email,
        "--name",
        "Ann",
        "--language",
        "en",
        "--age-recipient",
        str(identity.to_public()),
        "--ssh-key",
        f"{key}.pub",
    )
    add_seconds = time.perf_counter() - started
    assert added["state"] == "active" and added["encrypted"], added

    folder = pilot.var / "environments" / pid / "members" / email
    project = f"ngc-{pid.lower()}"
    token = _token(folder / "clouds.yaml", project)
    assert token.returncode == 0, token.stderr[-1500:]
    plain = pyrage.decrypt((folder / "bundle.tar.age").read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert (
            tar.extractfile("ngc-pilot/clouds.yaml").read() == (folder / "clouds.yaml").read_bytes()
        )

    users = openstack(pilot.clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
    assert f"{project}:{email}" in [u["Name"] for u in users]
    secret = yaml.safe_load((folder / "clouds.yaml").read_text())["clouds"][project]["auth"][
        "application_credential_secret"
    ]
    assert secret not in json.dumps(added)
    assert secret not in pilot.run("audit", "--json").stdout
    assert secret not in pilot.run("outbox", "--json").stdout
    member_id = next(u["ID"] for u in users if u["Name"] == f"{project}:{email}")
    keypairs = openstack(
        pilot.clouds,
        "--os-compute-api-version",
        "2.10",
        "keypair",
        "list",
        "--user",
        member_id,
        "-f",
        "json",
    )
    assert [k["Name"] for k in keypairs] == [f"{project}-ann-member-at-example-org"]
    allow = pilot.var / "bastion" / "authorized_keys"
    public = " ".join(Path(f"{key}.pub").read_text().split()[:2])
    assert f"{public} ngc-pilot:{pid}:{email}" in allow.read_text()
    listed = pilot.json("members", "list", pid)
    assert [(m["email"], m["state"]) for m in listed] == [(email, "active")]

    revoked = folder / "clouds.yaml"
    saved = tmp_path / "revoked-clouds.yaml"
    saved.write_bytes(revoked.read_bytes())
    started = time.perf_counter()
    removed = pilot.json("members", "remove", pid, email, "--reason", "left the project")
    remove_seconds = time.perf_counter() - started
    assert removed["state"] == "removed", removed
    refused = _token(saved, project)
    assert refused.returncode != 0
    users = openstack(pilot.clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
    assert f"{project}:{email}" not in [u["Name"] for u in users]
    assert email not in allow.read_text()

    verify = pilot.run("tenants", "verify", "--json")
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    probes = [p for p in json.loads(verify.stdout)["probes"] if p["what"] == "revoked credential"]
    assert [(p["target"], p["leaked"]) for p in probes] == [(f"removed member {email}", False)]
    print(
        f"\nmembers add: {add_seconds:.2f} s (service {added['seconds']:.2f} s; goal ≤ 3 s); "
        f"members remove: {remove_seconds:.2f} s (service {removed['seconds']:.2f} s; goal ≤ 3 s)"
    )


def test_bad_input_is_one_line_exit_2_and_changes_nothing(live):
    pilot, pid = live
    for args, bad in (
        (("members", "add", "NOPE-1", "a@example.org"), "NOPE-1"),
        (("members", "add", pid, "not-an-email"), "not-an-email"),
        (("members", "add", pid, "a@example.org", "--age-recipient", "age1bogus"), "age1bogus"),
        (("members", "remove", pid, "ghost@example.org"), "ghost@example.org"),
    ):
        result = pilot.run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "nothing was changed" in result.stderr and repr(bad) in result.stderr
    assert pilot.json("members", "list", pid, "--all") == []


def test_teardown_removes_every_members_user(pilot: Pilot):
    pid = f"ITM{uuid.uuid4().hex[:6].upper()}"
    pilot.nominate(small(pid))
    assert [t["state"] for t in pilot.json("provision", pid)["tenants"]] == ["active"]
    project = f"ngc-{pid.lower()}"
    try:
        for email, role in (("m@example.org", "member"), ("r@example.org", "reader")):
            assert pilot.json("members", "add", pid, email, "--role", role)["state"] == "active"
    finally:
        result = pilot.run("teardown", pid, "--yes", "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    users = openstack(pilot.clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
    assert not [u["Name"] for u in users if u["Name"].startswith(f"{project}:")]
    assert [m["state"] for m in pilot.json("members", "list", pid, "--all")] == ["removed"] * 2


def test_killed_between_credential_and_notice_a_rerun_loses_neither(live):
    """A real ``kill -9`` right after the member's credential step is in the ledger."""
    pilot, pid = live
    email = "kim@example.org"
    script = Path(__file__).with_name("kill_mid_member_add.py")
    crashed = subprocess.run(
        [sys.executable, str(script), pilot.db, pid, email],
        capture_output=True,
        text=True,
        cwd=pilot.tmp,
        env=pilot.env(),
        timeout=900,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert [m["state"] for m in pilot.json("members", "list", pid)] == ["adding"]
    notices = [m for m in pilot.json("outbox") if m["key"].startswith("member-added:")]
    assert notices == []
    resumed = pilot.json("members", "add", pid, email)
    assert resumed["state"] == "active", resumed
    assert resumed["changes"] == []  # the bundle holds the credential: not made twice
    folder = pilot.var / "environments" / pid / "members" / email
    token = _token(folder / "clouds.yaml", f"ngc-{pid.lower()}")
    assert token.returncode == 0, token.stderr[-1500:]
    notices = [m for m in pilot.json("outbox") if m["key"].startswith("member-added:")]
    assert [m["key"] for m in notices] == [f"member-added:{pid}:{email}"]
    again = pilot.json("members", "list", pid)
    assert [(m["email"], m["state"]) for m in again] == [(email, "active")]
