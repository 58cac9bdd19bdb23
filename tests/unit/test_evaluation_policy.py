"""The evaluation questionnaire and the validation of one response against it."""

from __future__ import annotations

import jsonschema
import pytest

from policies.evaluation import (
    AREAS,
    default_questionnaire_path,
    load_questionnaire,
    parse_questionnaire,
    response_json_schema,
    validate_response,
)
from policies.problems import InputProblems

SHIPPED = load_questionnaire()


def response(**answers: object) -> dict[str, object]:
    return {"questionnaire": 1, "pilot": "P-1", "respondent": "ada@example.org", "answers": answers}


def check(raw: object):
    return validate_response(raw, SHIPPED, source="r.yaml", record="P-1/ada")


def test_shipped_questionnaire_covers_the_five_areas_in_order_in_danish_and_english() -> None:
    assert [a.id for a in SHIPPED.areas] == list(AREAS)
    for area in SHIPPED.areas:
        assert {q.kind for q in area.questions} == {"scale", "text"}
        assert all(q.text.da and q.text.en and q.text.da != q.text.en for q in area.questions)


def test_a_questionnaire_without_an_area_is_refused_with_its_line() -> None:
    text = default_questionnaire_path().read_text()
    without = text[: text.index("  - id: governance")]
    with pytest.raises(InputProblems) as caught:
        parse_questionnaire(without, "q.yaml")
    (problem,) = caught.value.problems
    assert problem.field == "areas" and "missing governance" in problem.message
    assert problem.line == 20


def test_a_question_id_used_twice_is_refused() -> None:
    text = default_questionnaire_path().read_text().replace("id: gov.dialogue", "id: gov.clarity")
    with pytest.raises(InputProblems, match="'gov.clarity' is used twice"):
        parse_questionnaire(text)


def test_a_valid_response_keeps_its_answers_and_drops_blank_ones() -> None:
    good, problems = check(
        response(**{"infra.compute": 4, "infra.comments": "  fast ", "ops.response": None})
    )
    assert problems == []
    assert good is not None and good.answers == {"infra.compute": 4, "infra.comments": "fast"}


def test_a_scale_answer_from_a_csv_cell_is_a_whole_number() -> None:
    good, problems = check(response(**{"app.clarity": " 5", "gov.comments": ""}))
    assert problems == [] and good is not None and good.answers == {"app.clarity": 5}


@pytest.mark.parametrize("value", [0, 6, "4.5", 3.0, True, "good"])
def test_an_answer_outside_its_scale_is_refused_naming_question_and_value(value: object) -> None:
    good, (problem,) = check(response(**{"infra.compute": value}))
    assert good is None
    assert (problem.field, problem.value) == ("answers.infra.compute", value)
    assert "whole number 1 to 5" in problem.message


def test_an_unknown_question_is_refused_listing_the_known_ones() -> None:
    _, (problem,) = check(response(**{"infra.speed": 3}))
    assert problem.field == "answers.infra.speed"
    assert "unknown question in questionnaire version 1" in problem.message
    assert "infra.compute" in problem.message


def test_a_response_to_another_questionnaire_version_is_refused() -> None:
    raw = {**response(**{"infra.compute": 3}), "questionnaire": 2}
    _, (problem,) = check(raw)
    assert (problem.field, problem.value) == ("questionnaire", 2)
    assert "current one is version 1" in problem.message


def test_every_problem_of_a_response_is_reported_at_once() -> None:
    _, problems = check(response(**{"infra.compute": 9, "nope": 1, "gov.comments": 12}))
    assert [p.field for p in problems] == [
        "answers.infra.compute",
        "answers.nope",
        "answers.gov.comments",
    ]


def test_a_response_that_answers_nothing_is_refused() -> None:
    _, (problem,) = check(response(**{"infra.compute": None}))
    assert problem.message == "no question answered"


def test_the_json_schema_accepts_a_valid_file_and_refuses_an_out_of_scale_answer() -> None:
    schema = response_json_schema(SHIPPED)
    record = {"pilot": "P-1", "respondent": "ada@example.org"}
    jsonschema.validate(
        {"questionnaire": 1, "responses": [{**record, "answers": {"infra.compute": 5}}]}, schema
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"questionnaire": 1, "responses": [{**record, "answers": {"infra.compute": 6}}]}, schema
        )
