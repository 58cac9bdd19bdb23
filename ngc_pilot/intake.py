"""Intake: read nomination files, validate every record, store them, audit it.

Files are YAML, JSON (same structure: ``{"applications": [...]}``) or CSV
(nested keys flattened as ``data.volume``, lists separated by ``;``).  Every
problem in every file is collected before anything is written; one bad
record refuses the whole import (exit code 2) and the database is untouched.
Re-importing a record with the same id updates it (a new revision, audited);
it never creates a duplicate.  Ids are compared folded (:func:`id_key`), in the
files and against the database, so ``ACC-1`` and ``acc-1`` are refused as one
id given twice rather than becoming two tenants with one cloud project name.
Files are read defensively: bounded size, no repeated keys or columns, a
leading byte-order mark accepted in every format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlmodel import Session, select

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.models import Application
from policies.nomination import Nomination, id_key
from policies.problems import Problem, problems_from_validation
from policies.selection_policy import SelectionPolicy
from policies.yamlfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NUMBER_CHARS,
    LineIndex,
    load_with_lines,
)

LIST_COLUMNS = {"data.types", "data.sources", "task_types"}


@dataclass(frozen=True)
class SourcedNomination:
    nomination: Nomination
    source: str  # "file:line" of the record


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


# ------------------------------------------------------------------ reading files


def _records_yaml(
    text: str, source: str
) -> tuple[list[tuple[Any, str | None, int | None]], LineIndex | None, list[Problem]]:
    try:
        data, index = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return (
            [],
            None,
            [
                Problem(
                    source,
                    "(file)",
                    None,
                    f"not valid YAML: {getattr(exc, 'problem', exc)}",
                    line=mark.line + 1 if mark else None,
                )
            ],
        )
    return _records_from_document(data, source, index)


class _JsonRefused(ValueError):
    """JSON that parses but that we will not read (a repeated key, a huge number)."""


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonRefused(f"the key {key!r} is given twice in one object")
        out[key] = value
    return out


def _json_number(text: str) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JsonRefused(
            f"a number of {len(text)} characters; at most {MAX_NUMBER_CHARS} are allowed"
        )
    return float(text) if any(c in text for c in ".eE") else int(text)


def _json_constant(name: str) -> Any:
    raise _JsonRefused(f"{name} is not a JSON number")


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            stack.extend((child, level + 1) for child in children)
    return deepest


def _records_json(
    text: str, source: str
) -> tuple[list[tuple[Any, str | None, int | None]], LineIndex | None, list[Problem]]:
    def refused(message: str, line: int | None = None) -> tuple[list[Any], None, list[Problem]]:
        return [], None, [Problem(source, "(file)", None, message, line=line)]

    try:
        data = json.loads(
            text,
            object_pairs_hook=_json_object,
            parse_int=_json_number,
            parse_float=_json_number,
            parse_constant=_json_constant,
        )
    except json.JSONDecodeError as exc:
        return refused(f"not valid JSON: {exc.msg}", exc.lineno)
    except _JsonRefused as exc:
        return refused(f"not accepted JSON: {exc}")
    except RecursionError:
        return refused(f"not accepted JSON: nested deeper than {MAX_DEPTH} levels")
    if _depth(data) > MAX_DEPTH:
        return refused(f"not accepted JSON: nested deeper than {MAX_DEPTH} levels")
    return _records_from_document(data, source, None)


def _records_from_document(
    data: Any, source: str, index: LineIndex | None
) -> tuple[list[tuple[Any, str | None, int | None]], LineIndex | None, list[Problem]]:
    if not isinstance(data, dict) or "applications" not in data:
        return (
            [],
            index,
            [
                Problem(
                    source,
                    "applications",
                    None,
                    "expected a top-level key 'applications' with a list of nominations",
                    line=1,
                )
            ],
        )
    extra = sorted(set(data) - {"applications"})
    problems = [
        Problem(
            source,
            key,
            None,
            "unknown top-level key; only 'applications' is allowed",
            line=index.line_of((key,)) if index else None,
        )
        for key in extra
    ]
    items = data["applications"]
    if not isinstance(items, list):
        problems.append(
            Problem(
                source,
                "applications",
                type(items).__name__,
                "expected a list of nominations",
                line=index.line_of(("applications",)) if index else None,
            )
        )
        return [], index, problems
    records = []
    for i, item in enumerate(items):
        line = index.line_of(("applications", i)) if index else None
        record_id = item.get("id") if isinstance(item, dict) else None
        records.append((item, str(record_id) if record_id is not None else f"record {i + 1}", line))
    return records, index, problems


def _unflatten(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in row.items():
        if key is None:
            continue
        value: Any = raw.strip() if isinstance(raw, str) else raw
        if value == "" or value is None:
            continue
        if key in LIST_COLUMNS:
            value = [part.strip() for part in value.split(";") if part.strip()]
        parts = key.split(".")
        cursor = out
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
            if not isinstance(cursor, dict):
                break
        else:
            cursor[parts[-1]] = value
    return out


def _records_csv(
    text: str, source: str
) -> tuple[list[tuple[Any, str | None, int | None]], LineIndex | None, list[Problem]]:
    reader = csv.DictReader(io.StringIO(text))
    records = []
    problems = []
    try:
        header = reader.fieldnames or []
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            return (
                [],
                None,
                [
                    Problem(source, "(header)", name, "this column is given twice", line=1)
                    for name in repeated
                ],
            )
        for row in reader:
            line = reader.line_num
            if None in row:
                problems.append(
                    Problem(
                        source,
                        "(row)",
                        row[None],
                        "more cells than header columns",
                        line=line,
                        record=f"row {line}",
                    )
                )
            data = _unflatten(row)
            record_id = data.get("id")
            records.append((data, str(record_id) if record_id else f"row {line}", line))
    except csv.Error as exc:
        problems.append(
            Problem(source, "(file)", None, f"not valid CSV: {exc}", line=reader.line_num)
        )
    return records, None, problems


def read_file(
    path: Path,
) -> tuple[list[tuple[Any, str | None, int | None]], LineIndex | None, list[Problem]]:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            message = f"the file has {size} bytes; at most {MAX_FILE_BYTES} are allowed"
            return [], None, [Problem(source, "(file)", None, message)]
        # "utf-8-sig" drops the byte-order mark a spreadsheet's "CSV UTF-8" writes.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], None, [Problem(source, "(file)", None, "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return [], None, [Problem(source, "(file)", None, f"cannot read: {exc}")]
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _records_yaml(text, source)
    if suffix == ".json":
        return _records_json(text, source)
    if suffix == ".csv":
        return _records_csv(text, source)
    return (
        [],
        None,
        [
            Problem(
                source,
                "(file)",
                suffix or "(none)",
                "unknown file type; use .yaml, .yml, .json or .csv",
            )
        ],
    )


def validate_files(
    paths: Sequence[Path], policy: SelectionPolicy
) -> tuple[list[SourcedNomination], list[Problem]]:
    """Validate every record in every file; return the good ones and every problem."""
    good: list[SourcedNomination] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    context = {"vocabularies": policy.vocabularies}
    for path in paths:
        records, index, file_problems = read_file(path)
        problems.extend(file_problems)
        for i, (raw, record, line) in enumerate(records):
            where = f"{path}:{line}" if line else f"{path} {record}"
            if not isinstance(raw, dict):
                problems.append(
                    Problem(
                        str(path),
                        "(record)",
                        raw,
                        "expected a mapping of fields",
                        line=line,
                        record=record,
                    )
                )
                continue
            raw_id = raw.get("id")
            key = id_key(str(raw_id)) if isinstance(raw_id, str | int) else None
            if key is not None and key in seen:
                problems.append(
                    Problem(
                        str(path),
                        "id",
                        raw_id,
                        f"duplicate id (case and surrounding space ignored); "
                        f"first given at {seen[key]}",
                        line=line,
                        record=record,
                    )
                )
                continue
            if key is not None:
                seen[key] = where
            try:
                nomination = Nomination.model_validate(raw, context=context)
            except ValidationError as exc:
                base = ("applications", i)
                problems.extend(
                    problems_from_validation(
                        exc,
                        source=str(path),
                        base_path=base,
                        line_of=(index.line_of if index else (lambda _p, line=line: line)),
                        record=record,
                    )
                )
                continue
            good.append(SourcedNomination(nomination, where))
    return good, problems


# ----------------------------------------------------------------------- storing


def _columns(nomination: Nomination) -> dict[str, Any]:
    return {
        "name": nomination.name,
        "pi_name": nomination.principal_investigator.name,
        "pi_email": nomination.principal_investigator.email,
        "institution": nomination.institution,
        "institution_type": nomination.institution_type,
        "nominated_by": nomination.nominated_by,
        "data_volume_bytes": nomination.data.volume_bytes,
        "maturity": nomination.maturity,
        "ready_date": nomination.ready_date,
        "commits_to_evaluation": nomination.commits_to_evaluation,
        "data_processing_agreement": nomination.eligibility.data_processing_agreement,
        "document": nomination.model_dump(mode="json"),
    }


def _changed_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed.extend(_changed_fields(a, b, f"{prefix}{key}."))
        elif a != b:
            changed.append(f"{prefix}{key}")
    return changed


def store(
    session: Session, nominations: Sequence[SourcedNomination], *, actor: str, files: Sequence[str]
) -> ImportReport:
    """Insert or update applications and audit each change (one transaction, the caller's).

    Refuses (:class:`InputError`, nothing written) a nomination whose id folds to a
    stored one's without being it, whichever interface hands it in.
    """
    clashes = _clashes_with_stored(session, nominations)
    if clashes:
        raise InputError(clashes)
    report = ImportReport()
    for item in nominations:
        nomination = item.nomination
        columns = _columns(nomination)
        existing = session.get(Application, nomination.id)
        if existing is None:
            session.add(Application(id=nomination.id, source=item.source, **columns))
            audit.record(
                session,
                actor=actor,
                action="application.created",
                subject=nomination.id,
                details={"source": item.source, "name": nomination.name},
            )
            report.created.append(nomination.id)
            continue
        changed = _changed_fields(existing.document, columns["document"])
        if not changed:
            report.unchanged.append(nomination.id)
            continue
        for key, value in columns.items():
            setattr(existing, key, value)
        existing.source = item.source
        existing.revision += 1
        existing.updated_at = utcnow()
        session.add(existing)
        audit.record(
            session,
            actor=actor,
            action="application.updated",
            subject=nomination.id,
            details={"source": item.source, "changed": changed, "revision": existing.revision},
        )
        report.updated.append(nomination.id)
    audit.record(
        session,
        actor=actor,
        action="intake.import",
        subject=", ".join(files)[:200],
        details=report.as_dict(),
    )
    session.flush()
    return report


def _clashes_with_stored(
    session: Session, nominations: Sequence[SourcedNomination]
) -> list[Problem]:
    """Nominations whose id folds to a stored application's id without being it."""
    stored = {
        id_key(app_id): (app_id, source)
        for app_id, source in session.exec(select(Application.id, Application.source)).all()
    }
    problems = []
    for item in nominations:
        app_id = item.nomination.id
        match = stored.get(id_key(app_id))
        if match is not None and match[0] != app_id:
            problems.append(
                Problem(
                    item.source,
                    "id",
                    app_id,
                    f"the same id as the stored nomination {match[0]!r} (from {match[1]}) "
                    "when case and surrounding space are ignored; use that exact id to update it",
                )
            )
    return problems


def import_files(
    session: Session, paths: Sequence[Path], policy: SelectionPolicy, *, actor: str
) -> ImportReport:
    """Validate all files, then store; raises :class:`InputError` (nothing written) on any problem."""
    nominations, problems = validate_files(paths, policy)
    problems.extend(_clashes_with_stored(session, nominations))
    if problems:
        raise InputError(problems)
    if not nominations:
        raise InputError(
            [Problem(", ".join(map(str, paths)), "applications", [], "no nominations found")]
        )
    return store(session, nominations, actor=actor, files=[str(p) for p in paths])
