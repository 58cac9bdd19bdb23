"""Evaluation responses: import them as PIs fill them in, and sum them up per area.

Response files are YAML (``{"questionnaire": N, "responses": [{pilot,
respondent, answers: {question id: answer}}]}``) or CSV (one row per
respondent: ``questionnaire,pilot,respondent`` then one column per question
id; an empty cell is not answered).  As with nominations, every problem in
every file is collected before anything is written — an answer outside its
scale, an unknown question, a pilot that was not selected, a response to
another questionnaire version — and one problem refuses the whole import.
Re-importing the same (pilot, respondent, questionnaire version) updates the
stored response (a new revision, audited; the file's answers replace the
stored ones, so a question left out is no longer answered); it never adds a
second one.

Deliberately not here: what a valid answer is (``policies.evaluation``),
wording for a command line, and summing the answers up
(``ngc_pilot.evaluation_results``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.evaluation_models import EvaluationAnswer, EvaluationResponse
from ngc_pilot.intake import ImportReport
from ngc_pilot.models import Pilot
from policies.evaluation import Questionnaire, Response, validate_response
from policies.problems import Problem
from policies.yamlfile import LineIndex, load_with_lines

FIXED_COLUMNS = ("questionnaire", "pilot", "respondent")


@dataclass(frozen=True)
class SourcedResponse:
    response: Response
    source: str  # "file:line" of the record


def response_key(response: Response) -> str:
    return f"{response.pilot}/{response.respondent}"


# ------------------------------------------------------------------ reading files

Record = tuple[Any, str, int | None]  # raw record, its name, its line


def _yaml_records(text: str, source: str) -> tuple[list[Record], LineIndex | None, list[Problem]]:
    try:
        data, index = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return [], None, [Problem(source, "(file)", None, f"not valid YAML: {exc}", line=line)]
    if not isinstance(data, dict) or "responses" not in data:
        message = "expected the top-level keys 'questionnaire' (its version) and 'responses'"
        return [], index, [Problem(source, "responses", None, message, line=1)]
    problems = [
        Problem(
            source,
            str(key),
            None,
            "unknown top-level key; allowed are questionnaire and responses",
            line=index.line_of((key,)),
        )
        for key in sorted(set(data) - {"questionnaire", "responses"}, key=str)
    ]
    if "questionnaire" not in data:
        message = "give the version of the questionnaire this file answers, e.g. 'questionnaire: 1'"
        problems.append(Problem(source, "questionnaire", None, message, line=1))
        return [], index, problems
    items = data["responses"]
    if not isinstance(items, list):
        problems.append(
            Problem(
                source,
                "responses",
                type(items).__name__,
                "expected a list of responses",
                line=index.line_of(("responses",)),
            )
        )
        return [], index, problems
    records: list[Record] = []
    for i, item in enumerate(items):
        if isinstance(item, dict) and "questionnaire" in item:
            problems.append(
                Problem(
                    source,
                    "questionnaire",
                    item["questionnaire"],
                    "the version is given once, at the top of the file",
                    line=index.line_of(("responses", i, "questionnaire")),
                    record=_name(item, f"response {i + 1}"),
                )
            )
        elif isinstance(item, dict):
            # The version is said once per file; each record answers it.
            item = {"questionnaire": data["questionnaire"], **item}
        records.append((item, _name(item, f"response {i + 1}"), index.line_of(("responses", i))))
    return records, index, problems


def _csv_records(text: str, source: str) -> tuple[list[Record], None, list[Problem]]:
    reader = csv.DictReader(io.StringIO(text))
    records: list[Record] = []
    problems: list[Problem] = []
    try:
        missing = [c for c in FIXED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            message = f"missing column(s) {', '.join(missing)}; the first columns are {', '.join(FIXED_COLUMNS)}"
            return [], None, [Problem(source, "(header)", reader.fieldnames, message, line=1)]
        for row in reader:
            line = reader.line_num
            if None in row:
                problems.append(
                    Problem(source, "(row)", row[None], "more cells than header columns", line=line)
                )
            raw: dict[str, Any] = {c: (row.get(c) or "").strip() for c in FIXED_COLUMNS}
            raw["answers"] = {
                k: v for k, v in row.items() if k is not None and k not in FIXED_COLUMNS
            }
            records.append((raw, _name(raw, f"row {line}"), line))
    except csv.Error as exc:
        problems.append(
            Problem(source, "(file)", None, f"not valid CSV: {exc}", line=reader.line_num)
        )
    return records, None, problems


def _name(item: Any, fallback: str) -> str:
    if isinstance(item, dict) and item.get("pilot") and item.get("respondent"):
        return f"{item['pilot']}/{item['respondent']}"
    return fallback


def read_file(path: Path) -> tuple[list[Record], LineIndex | None, list[Problem]]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except FileNotFoundError:
        return [], None, [Problem(source, "(file)", None, "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return [], None, [Problem(source, "(file)", None, f"cannot read: {exc}")]
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _yaml_records(text, source)
    if suffix == ".csv":
        return _csv_records(text, source)
    message = "unknown file type; use .yaml, .yml or .csv"
    return [], None, [Problem(source, "(file)", suffix or "(none)", message)]


def selected_pilots(session: Session) -> list[str]:
    """The pilots responses may be given for: selected and not withdrawn."""
    query = select(Pilot.id).where(Pilot.state != "withdrawn").order_by(col(Pilot.id))
    return list(session.exec(query).all())


def validate_files(
    paths: Sequence[Path], questionnaire: Questionnaire, pilots: Sequence[str]
) -> tuple[list[SourcedResponse], list[Problem]]:
    """Validate every response in every file; return the good ones and every problem."""
    good: list[SourcedResponse] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    known = set(pilots)
    for path in paths:
        records, index, file_problems = read_file(path)
        problems.extend(file_problems)
        for i, (raw, name, line) in enumerate(records):
            where = f"{path}:{line}" if line else f"{path} {name}"
            response, found = validate_response(
                raw,
                questionnaire,
                source=str(path),
                record=name,
                base_path=("responses", i),
                line_of=index.line_of if index else (lambda _p, line=line: line),
            )
            problems.extend(found)
            pilot = raw.get("pilot") if isinstance(raw, dict) else None
            if isinstance(pilot, str) and pilot and pilot not in known:
                problems.append(
                    Problem(
                        str(path),
                        "pilot",
                        pilot,
                        "not a selected pilot; selected: " + (", ".join(pilots) or "(none yet)"),
                        line=index.line_of(("responses", i, "pilot")) if index else line,
                        record=name,
                    )
                )
                continue
            if response is None:
                continue
            key = response_key(response)
            if key in seen:
                problems.append(
                    Problem(
                        str(path),
                        "respondent",
                        response.respondent,
                        f"a second response by this respondent for pilot {response.pilot}; "
                        f"the first is at {seen[key]}",
                        line=line,
                        record=name,
                    )
                )
                continue
            seen[key] = where
            good.append(SourcedResponse(response, where))
    return good, problems


# ----------------------------------------------------------------------- storing


def _answer_rows(response: Response, questionnaire: Questionnaire) -> list[EvaluationAnswer]:
    rows = []
    for qid, value in response.answers.items():
        area, question = questionnaire.questions[qid]
        scale = question.kind == "scale"
        rows.append(
            EvaluationAnswer(
                question_id=qid,
                area=area.id,
                score=value if scale else None,
                text=None if scale else value,
            )
        )
    return rows


def _stored_answers(session: Session, response_id: int) -> dict[str, Any]:
    rows = session.exec(
        select(EvaluationAnswer).where(EvaluationAnswer.response_id == response_id)
    ).all()
    return {r.question_id: r.score if r.score is not None else r.text for r in rows}


def store(
    session: Session,
    responses: Sequence[SourcedResponse],
    questionnaire: Questionnaire,
    *,
    actor: str,
    files: Sequence[str],
) -> ImportReport:
    """Insert or update responses and audit each change (one transaction, the caller's)."""
    report = ImportReport()
    for item in responses:
        response = item.response
        key = response_key(response)
        existing = session.exec(
            select(EvaluationResponse).where(
                EvaluationResponse.pilot_id == response.pilot,
                EvaluationResponse.respondent == response.respondent,
                EvaluationResponse.questionnaire_version == questionnaire.version,
            )
        ).first()
        if existing is None:
            row = EvaluationResponse(
                pilot_id=response.pilot,
                respondent=response.respondent,
                questionnaire_version=questionnaire.version,
                questionnaire_digest=questionnaire.digest,
                source=item.source,
            )
            session.add(row)
            session.flush()
            action, changed = "evaluation.response_created", sorted(response.answers)
            report.created.append(key)
        else:
            row = existing
            old = _stored_answers(session, row.id)  # type: ignore[arg-type]
            changed = sorted(
                q for q in set(old) | set(response.answers) if old.get(q) != response.answers.get(q)
            )
            if not changed:
                report.unchanged.append(key)
                continue
            for answer in session.exec(
                select(EvaluationAnswer).where(EvaluationAnswer.response_id == row.id)
            ).all():
                session.delete(answer)
            session.flush()
            row.revision += 1
            row.source = item.source
            row.questionnaire_digest = questionnaire.digest
            row.updated_at = utcnow()
            session.add(row)
            action = "evaluation.response_updated"
            report.updated.append(key)
        for answer in _answer_rows(response, questionnaire):
            answer.response_id = row.id  # type: ignore[assignment]
            session.add(answer)
        audit.record(
            session,
            actor=actor,
            action=action,
            subject=response.pilot,
            details={
                "respondent": response.respondent,
                "questionnaire": questionnaire.version,
                "questions": changed,
                "revision": row.revision,
                "source": item.source,
            },
        )
    audit.record(
        session,
        actor=actor,
        action="evaluation.import",
        subject=", ".join(files)[:200],
        details={**report.as_dict(), "questionnaire": questionnaire.version},
    )
    session.flush()
    return report


def import_files(
    session: Session, paths: Sequence[Path], questionnaire: Questionnaire, *, actor: str
) -> ImportReport:
    """Validate all files, then store; raises :class:`InputError` (nothing written) on any problem."""
    responses, problems = validate_files(paths, questionnaire, selected_pilots(session))
    if problems:
        raise InputError(problems)
    if not responses:
        raise InputError(
            [Problem(", ".join(map(str, paths)), "responses", [], "no responses found")]
        )
    return store(session, responses, questionnaire, actor=actor, files=[str(p) for p in paths])
