"""The emulator's pure parts: quantities, patches and selectors (devcloud/kube_emulator)."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.paths import REPO

sys.path.insert(0, str(REPO / "devcloud"))

from kube_emulator import errors, patching, quantity, selectors  # noqa: E402


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["", "k", "M", "Ki", "Mi", "Gi"]))
def test_a_quantity_is_its_number_times_its_suffix(number, suffix):
    factor = {"": 1, "k": 1000, "M": 10**6, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}[suffix]
    assert quantity.parse(f"{number}{suffix}") == Decimal(number * factor)


@pytest.mark.parametrize(
    ("text", "value"), [("500m", "0.5"), ("1.5", "1.5"), ("2e3", "2000"), (".5Gi", "536870912")]
)
def test_fractions_millis_and_exponents(text, value):
    assert quantity.parse(text) == Decimal(value)


@pytest.mark.parametrize("text", ["two", "1GB", "1 Gi", "", "--1", "1.2.3", "Gi"])
def test_malformed_quantities_are_refused(text):
    assert not quantity.is_quantity(text)
    with pytest.raises(ValueError):
        quantity.parse(text)


def test_strategic_merge_merges_named_items_and_null_deletes():
    target = {
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
        "keep": 1,
        "drop": 2,
    }
    patch = {"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c"}]}, "drop": None}
    assert patching.strategic_merge(target, patch) == {
        "spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c"}]
        },
        "keep": 1,
    }


def test_merge_patch_replaces_lists_whole():
    target = {"items": [{"name": "a"}, {"name": "b"}]}
    assert patching.merge_patch(target, {"items": [{"name": "c"}]}) == {"items": [{"name": "c"}]}


def test_a_json_patch_that_does_not_apply_is_422():
    with pytest.raises(errors.ApiError) as refused:
        patching.json_patch({"a": {}}, [{"op": "replace", "path": "/a/missing", "value": 1}])
    assert refused.value.code == 422


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=web", True),
        ("app!=web", False),
        ("tier", False),
        ("!tier", True),
        ("app in (db,web)", True),
        ("app notin (web)", False),
        ("app=web,env=prod", True),
    ],
)
def test_label_selectors(selector, matches):
    obj = {"metadata": {"labels": {"app": "web", "env": "prod"}}}
    assert selectors.label_match(selector, obj) is matches
