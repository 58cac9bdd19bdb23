"""No pilot adopts or tears down another pilot's tenant on a real OpenStack (issue 8 §1).

Pilot X is provisioned; a second pilot whose id differs only in letter case
maps to the same cloud names.  It is put into the database directly (the
intake may refuse such an id; this tests the provisioner's own defence).
Provisioning it, planning it and tearing it down are all refused, naming the
resource, its owner and the pilot, and X's project, network, subnet and
router survive, untouched, as the real ``openstack`` CLI sees them.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from conftest import Pilot, openstack, small


def _copy_row(db: sqlite3.Connection, table: str, key: str, old: str, new: dict) -> None:
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    values = [f":{c}" if c in new else c for c in columns]
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {table} WHERE {key} = :old",
        {**new, "old": old},
    )


def add_case_twin(pilot: Pilot, pilot_id: str) -> str:
    """A second selected pilot whose id is ``pilot_id`` in lower case.

    Import refuses such a twin (and ``application.id_key`` is unique), so this is
    the one that a database from before that rule can hold: its ``id_key`` NULL,
    as migration 0005 leaves an earlier collision."""
    twin = pilot_id.lower()
    db = sqlite3.connect(pilot.tmp / "ngc.db")
    with db:
        application = db.execute(
            "SELECT application_id FROM pilot WHERE id = ?", (pilot_id,)
        ).fetchone()[0]
        _copy_row(db, "application", "id", application, {"id": twin, "id_key": None})
        _copy_row(db, "pilot", "id", pilot_id, {"id": twin, "application_id": twin})
    db.close()
    return twin


def cloud_state(pilot: Pilot, pilot_id: str) -> dict[str, str]:
    """The ids of X's project and its network, subnet and router, as the openstack CLI sees them."""
    pname = f"ngc-{pilot_id.lower()}"
    projects = openstack(pilot.clouds, "project", "list", "--domain", "ngc-pilots", "-f", "json")
    project = [p["ID"] for p in projects if p["Name"] == pname]
    assert len(project) == 1, projects
    state = {"project": project[0]}
    for kind in ("network", "subnet", "router"):
        found = openstack(pilot.clouds, kind, "list", "--project", project[0], "-f", "json")
        assert [x["Name"] for x in found] == [f"{pname}-{'net' if kind == 'network' else kind}"]
        state[kind] = found[0]["ID"]
    shown = openstack(pilot.clouds, "project", "show", project[0], "-f", "json")
    state["tags"] = ",".join(sorted(shown.get("tags") or []))
    state["enabled"] = str(shown.get("enabled"))
    return state


@pytest.fixture
def first(pilot: Pilot):
    pid = f"ITO{uuid.uuid4().hex[:6].upper()}"
    pilot.nominate(small(pid))
    provisioned = pilot.run("provision", pid)
    assert provisioned.returncode == 0, provisioned.stderr
    yield pilot, pid
    pilot.run("teardown", pid, "--yes")


def refused_line(result, first_id: str, second_id: str) -> str:
    assert result.returncode != 0, result.stdout
    line = result.stderr.strip().splitlines()[-1]
    assert "refusing" in line and "nothing was changed" in line, result.stderr
    assert f"project ngc-{first_id.lower()}" in line
    assert f"pilot {first_id}'s" in line and f"pilot {second_id}" in line
    return line


def test_a_pilot_whose_names_collide_cannot_adopt_or_tear_down_the_other(first):
    pilot, x = first
    before = cloud_state(pilot, x)
    twin = add_case_twin(pilot, x)

    refused_line(pilot.run("provision", twin), x, twin)
    refused_line(pilot.run("provision", twin, "--plan"), x, twin)
    refused_line(pilot.run("teardown", twin, "--yes"), x, twin)

    # Both at once: the twin fails (named, exit 1), X carries on, as reconcile does.
    both = pilot.run("provision", x, twin, "--json")
    assert both.returncode == 1, both.stderr
    states = {t["pilot"]: t["state"] for t in json.loads(both.stdout)["tenants"]}
    assert states == {x: "active", twin: "failed"}
    refused_line(both, x, twin)
    reconciled = pilot.run("tenants", "reconcile", "--json")
    assert x in {t["pilot"] for t in json.loads(reconciled.stdout)["tenants"]}

    assert cloud_state(pilot, x) == before
    assert (pilot.var / "environments" / x / "clouds.yaml").is_file()
    again = pilot.json("provision", x)  # X's own tenant is whole: nothing to do
    assert again["tenants"][0]["state"] == "active"
    assert again["tenants"][0]["changes"] == [] and again["tenants"][0]["applied"] == []


def test_one_pi_leading_two_pilots_keeps_the_user_until_the_last_pilot_is_torn_down(
    pilot: Pilot,
):
    a, b = (f"IT{k}{uuid.uuid4().hex[:6].upper()}" for k in "PQ")
    email = f"shared-{a.lower()}@example.org"
    records = [small(pid) for pid in (a, b)]
    for r in records:
        r["principal_investigator"]["email"] = email
    pilot.nominate(*records)
    try:
        provisioned = pilot.json("provision")
        assert [t["state"] for t in provisioned["tenants"]] == ["active", "active"]
        first = pilot.json("teardown", a, "--yes")
        assert first["clean"] is True and first["leftovers"] == []
        users = openstack(pilot.clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
        assert email in {u["Name"] for u in users}
        # b's researcher still works through b's bundle (its credential is the user's)
        bundle = pilot.var / "environments" / b / "clouds.yaml"
        cloud = f"ngc-{b.lower()}"
        networks = openstack(bundle, "network", "list", "-f", "json", cloud=cloud)
        assert f"{cloud}-net" in {n["Name"] for n in networks}
        last = pilot.json("teardown", b, "--yes")
        assert last["clean"] is True and last["leftovers"] == []
        users = openstack(pilot.clouds, "user", "list", "--domain", "ngc-pilots", "-f", "json")
        assert email not in {u["Name"] for u in users}
    finally:
        for pid in (a, b):
            pilot.run("teardown", pid, "--yes")
