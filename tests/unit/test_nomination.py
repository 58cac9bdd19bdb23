"""Validation of one nomination against the policy's vocabularies."""

import pytest
from pydantic import ValidationError
from support.records import DELETE, record

from policies.nomination import Nomination, nomination_json_schema
from policies.problems import problems_from_validation
from policies.selection_policy import default_policy_path, parse_policy


def validate(policy, raw):
    return Nomination.model_validate(raw, context={"vocabularies": policy.vocabularies})


def problems(policy, raw):
    with pytest.raises(ValidationError) as info:
        validate(policy, raw)
    return {p.field: p for p in problems_from_validation(info.value, source="t")}


def test_a_complete_record_validates(policy):
    n = validate(policy, record())
    assert n.data.volume_bytes == 10 * 10**12
    assert n.resources.vcpus == 64


def test_pitch_of_201_words_is_refused_and_200_accepted(policy):
    assert validate(policy, record(pitch=" ".join(["word"] * 200)))
    found = problems(policy, record(pitch=" ".join(["word"] * 201)))
    assert "201 words; at most 200" in found["pitch"].message


def test_every_problem_in_a_record_is_reported(policy):
    raw = record(
        data__types=["wgs", "exome"],
        data__volume="3 XB",
        maturity=6,
        access_months=0,
        principal_investigator__email="nope",
        eligibility__data_processing_agreement="maybe",
        budget=5,
    )
    found = problems(policy, raw)
    assert set(found) == {
        "data.types",
        "data.volume",
        "maturity",
        "access_months",
        "principal_investigator.email",
        "eligibility.data_processing_agreement",
        "budget",
    }
    assert "unknown value(s) 'exome'; allowed: wgs, wes" in found["data.types"].message
    assert found["maturity"].value == 6
    assert "unknown field" in found["budget"].message


def test_missing_field_is_named(policy):
    found = problems(policy, record(principal_investigator__email=DELETE))
    assert found["principal_investigator.email"].message == "required field is missing"


def test_vocabularies_come_from_the_policy_so_operations_can_extend_them():
    text = (
        default_policy_path()
        .read_text()
        .replace(
            "    registry: Danish national or regional registry data",
            "    registry: Danish national or regional registry data\n    microbiome: Microbiome sequencing",
        )
    )
    extended = parse_policy(text)
    raw = record(data__types=["microbiome"])
    assert Nomination.model_validate(raw, context={"vocabularies": extended.vocabularies})
    with pytest.raises(ValidationError):
        Nomination.model_validate(
            raw,
            context={"vocabularies": parse_policy(default_policy_path().read_text()).vocabularies},
        )


def test_json_schema_describes_the_file_format():
    schema = nomination_json_schema()
    assert schema["required"] == ["applications"]
    item = schema["$defs"]["Nomination"]
    assert {"id", "pitch", "data", "resources", "eligibility"} <= set(item["required"])
