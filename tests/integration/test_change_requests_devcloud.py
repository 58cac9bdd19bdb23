"""An approved extension against the real local OpenStack: Keystone's application
credential is renewed to expire at the end of the new last day, and the
researcher bundle holds the new one.

ngc-pilot runs as a separate process; the real ``openstack`` CLI reads the
credential's expiry back as the admin.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

from conftest import Pilot, failure_summary, openstack, small


def credentials(pilot: Pilot, user: str) -> list[dict]:
    return openstack(
        pilot.clouds,
        "application",
        "credential",
        "list",
        "--user",
        user,
        "--user-domain",
        "ngc-pilots",
        "-f",
        "json",
        "-c",
        "ID",
        "-c",
        "Name",
        "-c",
        "Expires At",
    )


def test_an_approved_extension_moves_the_credentials_expiry_in_keystone(pilot: Pilot):
    pid = f"IRQ{uuid.uuid4().hex[:6].upper()}"
    pilot.nominate(small(pid))
    provisioned = pilot.run("provision", pid, "--json")
    assert provisioned.returncode == 0, failure_summary(provisioned)
    user = f"{pid.lower()}@example.org"
    try:
        [before] = credentials(pilot, user)
        end = date.fromisoformat(pilot.json("tenants")[0]["planned_end"])
        assert before["Expires At"].startswith((end + timedelta(days=1)).isoformat())

        wanted = end + timedelta(days=45)
        filed = pilot.json(
            "requests", "file", pid, "--extend-to", wanted.isoformat(), "--justification", "more"
        )
        approved = pilot.run(
            "requests", "approve", str(filed["id"]), "--reason", "on track", "--json"
        )
        assert approved.returncode == 0, approved.stderr + approved.stdout
        row = json.loads(approved.stdout)
        assert row["status"] == "applied"
        assert any("application_credential" in step for step in row["applied"])

        [after] = credentials(pilot, user)
        assert after["ID"] != before["ID"]
        assert after["Expires At"].startswith((wanted + timedelta(days=1)).isoformat())
        bundle = json.loads((pilot.var / "environments" / pid / "environment.json").read_text())
        assert bundle["credential_expires_at"].startswith((wanted + timedelta(days=1)).isoformat())

        # Converged: nothing left to plan, and a second decision is refused.
        assert pilot.json("tenants", "reconcile")["tenants"][0]["drift"] == []
        again = pilot.run("requests", "approve", str(filed["id"]), "--reason", "twice")
        assert again.returncode == 2 and "already decided" in again.stderr
    finally:
        pilot.run("teardown", pid, "--yes")


def test_an_approved_member_request_gives_the_member_a_working_credential(pilot: Pilot):
    """``requests file --add-member`` then ``requests approve``: the member is added
    through the members service and their own credential gets a token from Keystone."""
    pid = f"IRM{uuid.uuid4().hex[:6].upper()}"
    pilot.nominate(small(pid))
    provisioned = pilot.run("provision", pid, "--json")
    assert provisioned.returncode == 0, failure_summary(provisioned)
    email = "co.researcher@example.org"
    try:
        filed = pilot.json(
            "requests", "file", pid, "--add-member", email, "--justification", "joins the team"
        )
        approved = pilot.run(
            "requests", "approve", str(filed["id"]), "--reason", "welcome", "--json"
        )
        assert approved.returncode == 0, approved.stderr + approved.stdout
        row = json.loads(approved.stdout)
        assert row["status"] == "applied", row
        folder = pilot.var / "environments" / pid / "members" / email
        project = f"ngc-{pid.lower()}"
        token = openstack(
            folder / "clouds.yaml",
            "token",
            "issue",
            "-f",
            "value",
            "-c",
            "id",
            cloud=project,
            check=False,
        )
        assert token.returncode == 0, token.stderr[-1500:]
        assert [(m["email"], m["state"]) for m in pilot.json("members", "list", pid)] == [
            (email, "active")
        ]
        kinds = {m["kind"] for m in pilot.json("outbox") if m.get("pilot") == pid}
        assert {"member_added", "request_decided"} <= kinds
    finally:
        pilot.run("teardown", pid, "--yes")
