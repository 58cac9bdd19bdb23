"""Hostile nomination and policy text is refused with a message, never a crash or a silent guess.

Pure tests of the readers and models (no database): YAML bombs and deep
nesting, repeated keys, control characters, unbounded strings and numbers,
booleans read as integers, and the id folding that keeps two nominations from
sharing one cloud project name.
"""

from __future__ import annotations

import string
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from support.records import record

from policies.nomination import MAX_PITCH_CHARS, Nomination, id_key
from policies.units import SizeError, parse_size
from policies.yamlfile import MAX_DEPTH, load_with_lines
from provisioner.desired import project_name

INTAKE = {"vocabularies": None}  # taken in, as intake validates (vocabularies aside)
CONTROL = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]]


def _errors(**overrides: object) -> list[tuple[str, str]]:
    try:
        Nomination.model_validate(record(**overrides), context=INTAKE)
    except ValidationError as exc:
        return [(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
    return []


def test_yaml_aliases_are_refused_before_they_expand():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(yaml.YAMLError, match="aliases"):
        load_with_lines(bomb)


@settings(deadline=None, max_examples=30)
@given(st.integers(min_value=MAX_DEPTH + 1, max_value=1500), st.booleans())
def test_yaml_nesting_beyond_the_limit_is_refused_with_the_limit(depth, flow):
    text = ("[" * depth + "]" * depth) if flow else "".join(f"{' ' * i}k:\n" for i in range(depth))
    with pytest.raises(yaml.YAMLError, match=f"deeper than {MAX_DEPTH}"):
        load_with_lines(text)


@settings(deadline=None)
@given(
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8), st.integers(), st.integers()
)
def test_a_key_repeated_in_a_yaml_mapping_is_refused(key, first, second):
    with pytest.raises(yaml.YAMLError, match="given twice"):
        load_with_lines(f"outer:\n  {key}: {first}\n  {key}: {second}\n")


@settings(deadline=None)
@given(st.integers(min_value=41, max_value=10_000))
def test_a_yaml_number_too_long_to_be_meant_is_refused_not_called_a_date(digits):
    with pytest.raises(yaml.YAMLError, match="at most 40"):
        load_with_lines(f"ready_date: {'9' * digits}\n")


def test_a_yaml_byte_order_mark_is_accepted():
    assert load_with_lines("\ufeffa: 1\n")[0] == {"a": 1}


@settings(deadline=None)
@given(
    st.sampled_from(["name", "institution", "nominated_by", "principal_investigator__name"]),
    st.sampled_from(CONTROL),
    st.text(max_size=20),
)
def test_control_characters_in_any_text_field_are_refused(field, control, tail):
    errors = _errors(**{field: f"x{control}{tail}"})
    assert any("control character" in msg for _, msg in errors), errors


@settings(deadline=None)
@given(st.sampled_from([c for c in CONTROL if c not in "\t\n"]))
def test_the_pitch_may_span_lines_but_holds_no_other_control_character(control):
    assert _errors(pitch="first line\n\tsecond line") == []
    assert _errors(pitch=f"a{control}b")[0][0] == "pitch"


def test_a_one_word_pitch_over_the_character_limit_is_refused_naming_the_limit():
    errors = _errors(pitch="x" * (MAX_PITCH_CHARS + 1))
    assert errors == [
        (
            "pitch",
            f"Value error, the pitch has {MAX_PITCH_CHARS + 1} characters; "
            f"at most {MAX_PITCH_CHARS} are allowed",
        )
    ]


@settings(deadline=None)
@given(
    st.sampled_from(
        [
            "resources__vcpus",
            "resources__gpus",
            "maturity",
            "data__subjects",
            "resources__storage_tb",
            "access_months",
        ]
    ),
    st.booleans(),
)
def test_a_boolean_is_never_read_as_a_number(field, value):
    assert any("got" in msg for _, msg in _errors(**{field: value}))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_storage_is_called_not_finite(value):
    assert _errors(resources__storage_tb=value) == [
        ("resources.storage_tb", "Input should be a finite number")
    ]


@settings(deadline=None)
@given(st.integers(min_value=4, max_value=29), st.sampled_from(["PB", "PiB", "TB"]))
def test_a_data_volume_beyond_1000_pb_is_refused_naming_the_limit(extra_digits, unit):
    volume = f"{'9' * extra_digits} {unit}"
    errors = _errors(data__volume=volume)
    if parse_size(volume) > 10**18:
        assert errors == [
            ("data.volume", "Value error, a data volume of at most 1000 PB is allowed")
        ]
    else:
        assert errors == []


@settings(deadline=None)
@given(st.integers(min_value=31, max_value=5000))
def test_a_size_with_too_many_digits_is_refused_naming_the_limit(digits):
    with pytest.raises(SizeError, match="at most 30"):
        parse_size(f"{'1' * digits} B")


# Letters whose NFKC form or case fold is ASCII: fullwidth, ligature-free Latin, Kelvin sign.
LOOKALIKES = {"A": "Ａ", "K": "\u212a", "a": "ａ", "1": "１"}


@settings(deadline=None)
@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=30),
    st.data(),
)
def test_ids_that_name_one_cloud_project_have_one_key(base, data):
    variant = "".join(
        data.draw(st.sampled_from([c, c.upper(), c.lower(), LOOKALIKES.get(c, c)])) for c in base
    )
    variant = (
        data.draw(st.sampled_from(["", " ", "\u3000"]))
        + variant
        + data.draw(st.sampled_from(["", " ", "\u00a0"]))
    )
    assert id_key(variant) == id_key(base)


@settings(deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=30))
def test_valid_ids_with_one_cloud_project_name_have_one_key(pilot_id):
    policy = SimpleNamespace(tenancy=SimpleNamespace(project_prefix="ngc-"))
    assert "ngc-" + id_key(pilot_id) == project_name(policy, pilot_id)  # type: ignore[arg-type]


def test_a_yaml_file_of_too_many_values_is_refused_naming_the_limit(monkeypatch):
    from policies import yamlfile

    monkeypatch.setattr(yamlfile, "MAX_NODES", 100)
    assert load_with_lines("[" + "0," * 98 + "0]")[0] == [0] * 99
    with pytest.raises(yaml.YAMLError, match="more than 100 values"):
        load_with_lines("[" + "0," * 99 + "0]")


def test_a_stored_document_from_before_the_text_rules_is_still_readable():
    stored = record(name="tab\there", pitch="x" * (MAX_PITCH_CHARS + 1))
    assert Nomination.model_validate(stored).name == "tab\there"
    assert _errors(name="tab\there", pitch="x" * (MAX_PITCH_CHARS + 1)) != []
