"""The pilots' evaluation answers summed up: per area and question, and per pilot.

Why this exists: ``evaluation list`` / ``evaluation show`` and the steering
group's report must show the same numbers, so both read them here: responses
received, the distribution over 1..5 and the mean (a Decimal rounded half-up
to 2 places) per question, and each pilot's answers and free-text comments.
Only answers to the given questionnaire version are counted.

Deliberately not here: importing or validating responses (``ngc_pilot.evaluation``),
formatting for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session, col, select

from ngc_pilot.errors import NotFoundError
from ngc_pilot.evaluation_models import EvaluationAnswer, EvaluationResponse
from ngc_pilot.models import Pilot
from policies.evaluation import SCALE_MAX, SCALE_MIN, Questionnaire
from policies.problems import Problem

CENT = Decimal("0.01")


def mean(scores: Sequence[int]) -> Decimal | None:
    """The mean of ``scores`` as a Decimal rounded half-up to 2 places (None for none)."""
    if not scores:
        return None
    return (Decimal(sum(scores)) / Decimal(len(scores))).quantize(CENT, rounding=ROUND_HALF_UP)


def _answers(
    session: Session, questionnaire: Questionnaire, pilot_id: str | None
) -> list[tuple[EvaluationResponse, EvaluationAnswer]]:
    query = (
        select(EvaluationResponse, EvaluationAnswer)
        .join(EvaluationAnswer, col(EvaluationAnswer.response_id) == col(EvaluationResponse.id))
        .where(EvaluationResponse.questionnaire_version == questionnaire.version)
        .order_by(col(EvaluationResponse.pilot_id), col(EvaluationResponse.respondent))
    )
    if pilot_id is not None:
        query = query.where(EvaluationResponse.pilot_id == pilot_id)
    return list(session.exec(query).all())


def _require_pilot(session: Session, pilot_id: str) -> None:
    if session.get(Pilot, pilot_id) is None:
        raise NotFoundError([Problem("evaluation", "pilot", pilot_id, "no such pilot")])


def summary(
    session: Session, questionnaire: Questionnaire, pilot_id: str | None = None
) -> dict[str, Any]:
    """Per area and question: responses received, the 1..5 distribution and the mean."""
    if pilot_id is not None:
        _require_pilot(session, pilot_id)
    rows = _answers(session, questionnaire, pilot_id)
    by_question: dict[str, list[Any]] = {}
    respondents_by_area: dict[str, set[int]] = {}
    for response, answer in rows:
        by_question.setdefault(answer.question_id, []).append(
            answer.score if answer.score is not None else answer.text
        )
        respondents_by_area.setdefault(answer.area, set()).add(response.id)  # type: ignore[arg-type]
    areas = []
    for area in questionnaire.areas:
        questions = []
        for question in area.questions:
            given = by_question.get(question.id, [])
            entry: dict[str, Any] = {
                "id": question.id,
                "kind": question.kind,
                "text": question.text.model_dump(),
                "responses": len(given),
            }
            if question.kind == "scale":
                entry["distribution"] = {
                    str(n): sum(1 for g in given if g == n) for n in range(SCALE_MIN, SCALE_MAX + 1)
                }
                entry["mean"] = mean(given)
            questions.append(entry)
        areas.append(
            {
                "id": area.id,
                "title": area.title.model_dump(),
                "responses": len(respondents_by_area.get(area.id, set())),
                "questions": questions,
            }
        )
    return {
        "questionnaire": questionnaire.version,
        "pilot": pilot_id,
        "responses": len({r.id for r, _ in rows}),
        "areas": areas,
    }


def pilot_answers(session: Session, questionnaire: Questionnaire, pilot_id: str) -> dict[str, Any]:
    """One pilot's responses, each respondent's answers, and the free-text comments per area."""
    _require_pilot(session, pilot_id)
    rows = _answers(session, questionnaire, pilot_id)
    order = {qid: i for i, qid in enumerate(questionnaire.questions)}
    respondents: dict[int, dict[str, Any]] = {}
    comments: dict[str, list[dict[str, str]]] = {a.id: [] for a in questionnaire.areas}
    for response, answer in sorted(
        rows, key=lambda ra: (ra[0].respondent, order[ra[1].question_id])
    ):
        entry = respondents.setdefault(
            response.id,  # type: ignore[arg-type]
            {
                "respondent": response.respondent,
                "revision": response.revision,
                "updated_at": response.updated_at.isoformat(),
                "answers": {},
            },
        )
        if answer.score is not None:
            entry["answers"][answer.question_id] = answer.score
        else:
            entry["answers"][answer.question_id] = answer.text
            comments[answer.area].append(
                {
                    "respondent": response.respondent,
                    "question": answer.question_id,
                    "text": answer.text or "",
                }
            )
    return {
        "questionnaire": questionnaire.version,
        "pilot": pilot_id,
        "respondents": list(respondents.values()),
        "comments": comments,
    }
