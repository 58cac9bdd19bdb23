"""Selection through the CLI: propose, constraints, locks, why-not, commit."""

import pytest
from support.paths import DEMO_DATA

pytestmark = pytest.mark.migrated

DEMO = DEMO_DATA / "nominations.yaml"


@pytest.fixture
def loaded(cli):
    assert cli("intake", "import", str(DEMO)).code == 0
    return cli


def test_proposal_is_certified_optimal_and_within_every_limit(loaded, policy):
    data = loaded("select", "--json").json()
    assert data["optimal"] is True and data["gap"] == 0.0 and data["status"] == "optimal"
    ids = [s["id"] for s in data["selected"]]
    assert policy.selection.k_min <= len(ids) <= policy.selection.k_max
    for resource, used in data["capacity_used"].items():
        assert used <= data["capacity"][resource]
    apps = {a["id"]: a for a in loaded("intake", "list", "--json").json()}
    assert all(apps[i]["eligible"] for i in ids)
    institutions = [apps[i]["institution"] for i in ids]
    assert max(institutions.count(x) for x in institutions) <= policy.selection.per_institution_cap
    assert set(data["explanations"]) == set(ids)
    for explanation in data["explanations"].values():
        assert {
            "quality_points",
            "unique_values",
            "marginal_loss",
            "share_of_score",
            "best_swap",
        } <= set(explanation)


def test_same_database_gives_the_same_selection(loaded):
    first = loaded("select", "--json").json()
    second = loaded("select", "--json").json()
    assert [s["id"] for s in first["selected"]] == [s["id"] for s in second["selected"]]
    assert first["objective"] == second["objective"]


def test_lock_out_and_lock_in_are_honoured(loaded):
    base = loaded("select", "--json").json()
    out_id = base["selected"][0]["id"]
    eligible = [a["id"] for a in loaded("intake", "list", "--json", "--eligible").json()]
    in_id = next(i for i in eligible if i not in {s["id"] for s in base["selected"]})
    data = loaded("select", "--lock-out", out_id, "--lock-in", in_id, "--json").json()
    ids = {s["id"] for s in data["selected"]}
    assert out_id not in ids and in_id in ids
    assert data["objective"] <= base["objective"] + 1e-6


def test_locking_in_an_ineligible_project_is_refused_with_the_reason(loaded):
    ineligible = next(a for a in loaded("intake", "list", "--json").json() if not a["eligible"])
    result = loaded("select", "--lock-in", ineligible["id"])
    assert result.code == 2
    assert ineligible["id"] in result.err and "ineligible" in result.err
    assert result.err.count(ineligible["ineligible_reasons"][0]) == 1


def test_unknown_lock_is_refused(loaded):
    result = loaded("select", "--lock-out", "NOPE")
    assert result.code == 2 and "--lock-out = 'NOPE'" in result.err


def test_min_and_max_override_the_policy(loaded):
    data = loaded("select", "--min", "3", "--max", "4", "--json").json()
    assert 3 <= len(data["selected"]) <= 4


def test_impossible_selection_says_which_constraint(loaded):
    result = loaded("select", "--min", "40", "--max", "40", "--json")
    assert result.code == 3
    data = result.json()
    assert data["status"] == "infeasible" and data["selected"] == []
    assert any("minimum size" in r for r in data["infeasibility"])


def test_why_not_explains_ineligible_and_unselected(loaded):
    apps = loaded("intake", "list", "--json").json()
    ineligible = next(a for a in apps if not a["eligible"])
    answer = loaded("select", "why-not", ineligible["id"], "--json").json()
    assert answer["eligible"] is False and answer["reasons"] == ineligible["ineligible_reasons"]
    selected = {s["id"] for s in loaded("select", "--json").json()["selected"]}
    outsider = next(a["id"] for a in apps if a["eligible"] and a["id"] not in selected)
    answer = loaded("select", "why-not", outsider, "--json").json()
    assert answer["eligible"] is True and answer["selected"] is False
    assert answer["cost"] >= -1e-6 and outsider in answer["forced_selection"]
    text = loaded("select", "why-not", outsider)
    assert "forcing it in lowers the objective" in text.out


def test_commit_records_decision_pilots_and_audit(loaded, policy):
    result = loaded("select", "--commit", "--by", "Steering group", "--reason", "Round 1", "--json")
    assert result.code == 0, result.err
    data = result.json()
    decision = data["decision"]
    pilots = loaded("select", "pilots", "--json").json()
    assert {p["id"] for p in pilots} == {s["id"] for s in data["selected"]}
    for p in pilots:
        assert policy.pilot_period.start.isoformat() <= p["planned_start"] <= p["planned_end"]
        assert p["planned_end"] <= policy.pilot_period.end.isoformat()
        assert p["decision"] == decision["id"]
    decisions = loaded("select", "decisions", "--json").json()
    assert decisions[0]["decided_by"] == "Steering group" and decisions[0]["reason"] == "Round 1"
    assert decisions[0]["optimal"] is True
    committed = loaded("audit", "--json", "--action", "selection.committed").json()
    assert committed[0]["actor"] == "tester" and committed[0]["reason"] == "Round 1"
    assert len(loaded("audit", "--json", "--action", "pilot.selected").json()) == len(pilots)


def test_recommit_with_a_lock_out_withdraws_the_dropped_pilot(loaded):
    first = loaded("select", "--commit", "--by", "A", "--reason", "r1", "--json").json()
    dropped = first["selected"][0]["id"]
    loaded("select", "--commit", "--by", "A", "--reason", "r2", "--lock-out", dropped)
    states = {p["id"]: p["state"] for p in loaded("select", "pilots", "--json").json()}
    assert states[dropped] == "withdrawn"
    assert loaded("audit", "--json", "--action", "pilot.withdrawn").json()[0]["subject"] == dropped


def test_commit_without_by_or_reason_is_refused_and_writes_nothing(loaded):
    result = loaded("select", "--commit", "--by", "Someone")
    assert result.code == 2 and "--reason" in result.err
    assert loaded("select", "pilots", "--json").json() == []
    assert loaded("audit", "--json", "--action", "selection").json() == []


def test_max_below_min_is_refused_naming_both_options(loaded):
    result = loaded("select", "--min", "5", "--max", "3")
    assert result.code == 2
    assert "--max = 3: must be at least the minimum number of pilots (5)" in result.err


def test_the_selection_service_names_the_decisions_fields_not_the_cli_options(loaded, policy):
    """Services speak the domain; only the CLI turns 'decision maker' into --by."""
    from ngc_pilot import selection
    from ngc_pilot.application import Application
    from ngc_pilot.db import session_scope
    from ngc_pilot.errors import InputError
    from ngc_pilot.settings import build_settings

    app = Application(build_settings(overrides={"database": {"url": loaded.url}}, environ={}))
    try:
        with session_scope(app.engine) as session:
            proposal = selection.propose(session, policy, selection.SelectOptions())
            with pytest.raises(InputError) as refused:
                selection.commit(session, proposal, by=" ", reason="", actor="tester")
    finally:
        app.close()
    fields = {(p.source, p.field) for p in refused.value.problems}
    assert fields == {("decision", "decision maker"), ("decision", "reason")}
    assert not any(p.field.startswith("--") for p in refused.value.problems)
