"""The selection policy file: shipped default and bad edits."""

from pathlib import Path

import pytest

from policies.problems import InputProblems
from policies.selection_policy import default_policy_path, load_policy, parse_policy


def test_shipped_policy_loads_with_the_source_pilot_period(policy):
    assert str(policy.pilot_period.start) == "2021-04-15"
    assert str(policy.pilot_period.end) == "2021-08-31"
    assert (policy.selection.k_min, policy.selection.k_max) == (5, 10)
    assert len(policy.digest) == 64


def _shipped() -> str:
    return default_policy_path().read_text()


def test_a_bad_policy_reports_every_problem_at_once_with_lines():
    text = (
        _shipped()
        .replace("k_min: 5 ", "k_min: 0 ")
        .replace("  vcpus: 2048", "  vcpus: lots")
        .replace("maturity: 35", "maturity: -1")
        .replace("repeat_credit: [1.0, 0.5, 0.25]", "repeat_credit: [0.5, 1.0]")
    )
    with pytest.raises(InputProblems) as info:
        parse_policy(text, source="bad.yaml")
    problems = {p.field: p for p in info.value.problems}
    assert {
        "selection.k_min",
        "capacity.vcpus",
        "scoring.weights.maturity",
        "heterogeneity.repeat_credit",
    } <= set(problems)
    lines = text.splitlines()
    assert "vcpus: lots" in lines[problems["capacity.vcpus"].line - 1]
    assert "k_min: 0" in lines[problems["selection.k_min"].line - 1]
    assert "must not increase" in problems["heterogeneity.repeat_credit"].message


def test_unknown_attribute_and_bad_bucket_order_are_named():
    text = _shipped().replace(
        "readiness: {weight: 3}", "readiness: {weight: 3}\n    colour: {weight: 1}"
    )
    text = text.replace("{name: medium, below: 50 TB}", "{name: medium, below: 0.5 TB}")
    with pytest.raises(InputProblems) as info:
        parse_policy(text)
    message = str(info.value)
    assert "unknown attribute 'colour'" in message
    assert "bounds must increase" in message


def test_period_end_before_start_is_refused():
    text = _shipped().replace("end: 2021-08-31", "end: 2021-01-01")
    with pytest.raises(InputProblems, match="must be after start"):
        parse_policy(text)


def test_not_yaml_names_the_line():
    with pytest.raises(InputProblems) as info:
        parse_policy("version: 1\npilot_period: [unclosed\n")
    assert info.value.problems[0].line is not None


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path):
    with pytest.raises(InputProblems, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


def test_an_impossible_date_is_a_problem_with_its_line(tmp_path):
    text = default_policy_path().read_text().replace("start: 2021-04-15", "start: 2021-06-31")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "2021-06-31" in t)
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(InputProblems) as caught:
        load_policy(path)
    [problem] = caught.value.problems
    assert (
        problem.line == line and "2021-06-31" in problem.message and "YYYY-MM-DD" in problem.message
    )
