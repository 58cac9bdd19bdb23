"""A policy or price file that passes its check is safe to use: no inf, nan, zero floor, 1e400.

``select`` divides by the data-volume floor and sums weights; invoicing
multiplies unit prices.  The values that broke them after passing the check
are refused by the check itself, each naming the limit.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.prices import MAX_UNIT_PRICE, parse_prices
from policies.problems import InputProblems
from policies.selection_policy import default_policy_path, parse_policy

PRICES = (Path(default_policy_path()).parent / "prices.yaml").read_text()


def problems_of(text: str) -> list[str]:
    try:
        parse_policy(text)
    except InputProblems as exc:
        return [f"{p.field}: {p.message}" for p in exc.problems]
    return []


@pytest.mark.parametrize("floor", ["0 B", "0 TB", "0.0001 B"])
def test_a_data_volume_floor_below_one_byte_is_refused(floor):
    data = yaml.safe_load(default_policy_path().read_text())
    data["scoring"]["data_volume_floor"] = floor
    assert problems_of(yaml.safe_dump(data)) == [
        "scoring.data_volume_floor: must be at least 1 B and at most 1000 PB"
    ]


@settings(deadline=None)
@given(
    st.sampled_from(["maturity", "readiness", "commitment", "data_volume"]),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, 1e4])),
)
def test_a_score_weight_is_accepted_only_if_finite_and_at_most_1000(criterion, weight):
    data = yaml.safe_load(default_policy_path().read_text())
    data["scoring"]["weights"][criterion] = weight
    problems = problems_of(yaml.safe_dump(data))
    if math.isfinite(weight) and 0 <= weight <= 1000:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(f"scoring.weights.{criterion}: ")


@settings(deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_an_attribute_weight_is_accepted_only_if_finite_and_at_most_1000(weight):
    data = yaml.safe_load(default_policy_path().read_text())
    data["heterogeneity"]["attributes"]["data_types"]["weight"] = weight
    problems = problems_of(yaml.safe_dump(data))
    assert (problems == []) == (math.isfinite(weight) and 0 <= weight <= 1000)


@pytest.mark.parametrize("value", [".inf", ".nan", "1e400"])
def test_a_non_finite_capacity_is_refused(value):
    text = default_policy_path().read_text().replace("storage_tb:", f"storage_tb: {value} #", 1)
    assert [p.split(":")[0] for p in problems_of(text)] == ["capacity.storage_tb"]


def _price_problems(price: str) -> list[str]:
    text = PRICES.replace('vcpu_hour: "0.30"', f'vcpu_hour: "{price}"', 1)
    try:
        parse_prices(text)
    except InputProblems as exc:
        return [f"{p.field}: {p.message}" for p in exc.problems]
    return []


@settings(deadline=None)
@given(st.sampled_from(["1e400", "1E+7", "1000000.000001", "9" * 500, "Infinity", "NaN", "-0.1"]))
def test_a_unit_price_outside_zero_to_a_million_is_refused(price):
    problems = _price_problems(price)
    assert len(problems) == 1 and problems[0].startswith("versions.0.prices.vcpu_hour: ")


def test_the_largest_unit_price_is_accepted_and_named_when_exceeded():
    assert _price_problems(str(MAX_UNIT_PRICE)) == []
    assert _price_problems("1e400") == [
        f"versions.0.prices.vcpu_hour: must be at most {MAX_UNIT_PRICE} DKK per unit"
    ]


def test_a_binary_policy_file_is_one_problem_not_a_traceback(tmp_path):
    from policies.selection_policy import load_policy

    path = tmp_path / "policy.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(InputProblems) as caught:
        load_policy(path)
    assert [p.message for p in caught.value.problems] == [
        "not UTF-8 text (byte 1 cannot be decoded); is it a binary file?"
    ]
