"""The evaluation questionnaire (``evaluation.yaml``) and what a valid response to it is.

Why this exists: the pilot exists to test five things (the IT infrastructure,
operations and support, the application process, the payment model and
agreement basis, governance), and the steering group wants the pilots' verdict
on each.  The questions are policy — a versioned file operations can edit —
and a response is checked against the version it answers: an unknown
question, an answer outside its scale or a response to another version of the
questionnaire is a :class:`~policies.problems.Problem` with the field, the
value and what is allowed, every problem at once.

Deliberately not here: reading response files, knowing which pilots exist,
storing or aggregating answers (``ngc_pilot.evaluation``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policies.policyfile import parse_model, read_text
from policies.problems import Problem, problems_from_validation

# The five things the pilot tests, in the order of the steering group's decision.
AREAS: tuple[str, ...] = ("infrastructure", "operations", "application", "payment", "governance")
SCALE_MIN, SCALE_MAX = 1, 5
MAX_TEXT = 4000
_QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_PILOT_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

LineOf = Callable[[Sequence[str | int]], int | None]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Text(_Frozen):
    """The same words in Danish (the steering group's language) and English."""

    da: Annotated[str, Field(min_length=1, max_length=500)]
    en: Annotated[str, Field(min_length=1, max_length=500)]

    def get(self, lang: str) -> str:
        return self.da if lang == "da" else self.en


class Question(_Frozen):
    id: Annotated[str, Field(max_length=64)]
    kind: Literal["scale", "text"]
    text: Text

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _QUESTION_ID.match(value):
            raise ValueError("lower-case letters, digits, _ and dots, e.g. infra.compute")
        return value


class Area(_Frozen):
    id: Literal["infrastructure", "operations", "application", "payment", "governance"]
    title: Text
    questions: Annotated[list[Question], Field(min_length=1)]


class Questionnaire(_Frozen):
    version: Annotated[int, Field(ge=1)]
    areas: list[Area]
    digest: str = ""  # sha256 of the file's text (set by the loader)

    @field_validator("areas")
    @classmethod
    def _five_areas(cls, value: list[Area]) -> list[Area]:
        ids = [a.id for a in value]
        if sorted(ids) != sorted(AREAS):
            missing = [a for a in AREAS if a not in ids]
            repeated = sorted({a for a in ids if ids.count(a) > 1})
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [f"repeated {', '.join(repeated)}"] if repeated else []
            raise ValueError(
                f"need each of the five areas exactly once ({', '.join(AREAS)}); "
                + "; ".join(parts)
            )
        seen: set[str] = set()
        for area in value:
            for question in area.questions:
                if question.id in seen:
                    raise ValueError(f"question id {question.id!r} is used twice")
                seen.add(question.id)
        return sorted(value, key=lambda a: AREAS.index(a.id))

    @cached_property
    def questions(self) -> dict[str, tuple[Area, Question]]:
        """Every question by id, with its area, in file order."""
        return {q.id: (a, q) for a in self.areas for q in a.questions}

    def area(self, area_id: str) -> Area:
        return next(a for a in self.areas if a.id == area_id)


def default_questionnaire_path() -> Path:
    return Path(str(resources.files("policies").joinpath("evaluation.yaml")))


def parse_questionnaire(text: str, source: str = "evaluation.yaml") -> Questionnaire:
    """Validate questionnaire ``text``; raise :class:`InputProblems` listing every problem."""
    return parse_model(text, source, Questionnaire)


def load_questionnaire(path: Path | str | None = None) -> Questionnaire:
    file = Path(path) if path is not None else default_questionnaire_path()
    return parse_questionnaire(read_text(file), source=str(file))


# ------------------------------------------------------------------ responses

Answer = int | str


class Response(_Frozen):
    """One respondent's answers for one pilot to one version of the questionnaire."""

    questionnaire: int
    pilot: Annotated[str, Field(pattern=_PILOT_ID)]
    respondent: Annotated[str, Field(min_length=1, max_length=200)]
    answers: dict[str, Any]


def _scale(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())  # a CSV cell
    else:
        raise ValueError
    if not SCALE_MIN <= number <= SCALE_MAX:
        raise ValueError
    return number


def check_answers(
    answers: dict[str, Any], questionnaire: Questionnaire
) -> tuple[dict[str, Answer], list[tuple[str, Any, str]]]:
    """The answers normalised (unanswered ones dropped) and every (question, value, message) wrong."""
    good: dict[str, Answer] = {}
    wrong: list[tuple[str, Any, str]] = []
    for qid, value in answers.items():
        found = questionnaire.questions.get(str(qid))
        if found is None:
            wrong.append(
                (
                    str(qid),
                    value,
                    f"unknown question in questionnaire version {questionnaire.version}; "
                    f"known: {', '.join(questionnaire.questions)}",
                )
            )
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # left blank: not answered
        question = found[1]
        if question.kind == "scale":
            try:
                good[question.id] = _scale(value)
            except ValueError:
                wrong.append(
                    (qid, value, f"a scale answer is a whole number {SCALE_MIN} to {SCALE_MAX}")
                )
        elif not isinstance(value, str):
            wrong.append((qid, value, "a free-text answer is text"))
        elif len(value.strip()) > MAX_TEXT:
            wrong.append((qid, value, f"at most {MAX_TEXT} characters"))
        else:
            good[question.id] = value.strip()
    return good, wrong


def validate_response(
    raw: Any,
    questionnaire: Questionnaire,
    *,
    source: str,
    record: str | None,
    base_path: Sequence[str | int] = (),
    line_of: LineOf | None = None,
) -> tuple[Response | None, list[Problem]]:
    """A valid :class:`Response` (answers normalised) or every problem with ``raw``."""

    def line(path: Sequence[str | int]) -> int | None:
        return line_of(list(base_path) + list(path)) if line_of else None

    if not isinstance(raw, dict):
        return None, [
            Problem(source, "(record)", raw, "expected a mapping of fields", line(()), record)
        ]
    try:
        response = Response.model_validate(raw)
    except ValidationError as exc:
        return None, problems_from_validation(
            exc, source=source, base_path=base_path, line_of=line_of, record=record
        )
    problems: list[Problem] = []
    if response.questionnaire != questionnaire.version:
        problems.append(
            Problem(
                source,
                "questionnaire",
                response.questionnaire,
                f"answers another version of the questionnaire; the current one is version "
                f"{questionnaire.version}",
                line(("questionnaire",)),
                record,
            )
        )
    answers, wrong = check_answers(response.answers, questionnaire)
    problems += [
        Problem(source, f"answers.{qid}", value, message, line(("answers", qid)), record)
        for qid, value, message in wrong
    ]
    if not problems and not answers:
        problems.append(
            Problem(source, "answers", {}, "no question answered", line(("answers",)), record)
        )
    if problems:
        return None, problems
    return response.model_copy(update={"answers": answers}), []


def response_json_schema(questionnaire: Questionnaire) -> dict[str, Any]:
    """JSON Schema of a response file (``{"questionnaire": N, "responses": [...]}``)."""
    answers: dict[str, Any] = {}
    for qid, (area, question) in questionnaire.questions.items():
        described = {"description": f"[{area.id}] {question.text.en} / {question.text.da}"}
        if question.kind == "scale":
            answers[qid] = {
                "type": ["integer", "null"],
                "minimum": SCALE_MIN,
                "maximum": SCALE_MAX,
                **described,
            }
        else:
            answers[qid] = {"type": ["string", "null"], "maxLength": MAX_TEXT, **described}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"ngc-pilot evaluation responses (questionnaire version {questionnaire.version})",
        "type": "object",
        "required": ["questionnaire", "responses"],
        "additionalProperties": False,
        "properties": {
            "questionnaire": {"const": questionnaire.version},
            "responses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["pilot", "respondent", "answers"],
                    "additionalProperties": False,
                    "properties": {
                        "pilot": {"type": "string", "pattern": _PILOT_ID},
                        "respondent": {"type": "string", "minLength": 1, "maxLength": 200},
                        "answers": {
                            "type": "object",
                            "additionalProperties": False,
                            "minProperties": 1,
                            "properties": answers,
                        },
                    },
                },
            },
        },
    }
