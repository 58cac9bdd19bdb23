"""Read nomination files (YAML, JSON, CSV) into raw records, defensively.

Why this exists: a nomination file comes from outside NGC and may be hostile
or merely broken.  Each reader returns ``(records, line index, problems)``
and never raises for bad content: every problem becomes a
:class:`~policies.problems.Problem` with file and line.  Refused outright:
files over :data:`~policies.yamlfile.MAX_FILE_BYTES`, text that is not UTF-8,
YAML anchors/aliases and deep nesting (see :mod:`policies.yamlfile`), JSON
nested deeper than :data:`~policies.yamlfile.MAX_DEPTH`, numbers longer than
:data:`~policies.yamlfile.MAX_NUMBER_CHARS` characters, NaN/Infinity, a key
repeated in one mapping and a column repeated in a CSV header.  A leading
byte-order mark is accepted in every format (a spreadsheet's "CSV UTF-8"
writes one).

Deliberately not here: what makes a record valid (:mod:`policies.nomination`)
and storing anything (:mod:`ngc_pilot.intake`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from policies.problems import Problem
from policies.yamlfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NUMBER_CHARS,
    LineIndex,
    load_with_lines,
)

LIST_COLUMNS = {"data.types", "data.sources", "task_types"}

Records = tuple[list[tuple[Any, str | None, int | None]], LineIndex | None, list[Problem]]


def _records_yaml(text: str, source: str) -> Records:
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


def _records_json(text: str, source: str) -> Records:
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


def _records_from_document(data: Any, source: str, index: LineIndex | None) -> Records:
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


def _records_csv(text: str, source: str) -> Records:
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
) -> Records:
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
