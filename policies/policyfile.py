"""Read a YAML policy file into a pydantic model, reporting every problem with its line.

Shared by the selection policy and the tenancy policy so both refuse a bad
edit the same way: all problems at once, file and line for each.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from policies.problems import InputProblems, Problem, problems_from_validation
from policies.yamlfile import MAX_FILE_BYTES, load_with_lines

M = TypeVar("M", bound=BaseModel)


def parse_model(text: str, source: str, model: type[M]) -> M:
    """Validate YAML ``text`` into ``model`` (its ``digest`` field gets the text's sha256)."""
    try:
        data, index = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputProblems(
            [Problem(source, "(file)", None, f"not valid YAML: {problem}", line=line)]
        ) from exc
    if not isinstance(data, dict):
        raise InputProblems(
            [Problem(source, "(file)", None, "expected a mapping at the top level")]
        )
    data = {**data, "digest": hashlib.sha256(text.encode()).hexdigest()}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputProblems(
            problems_from_validation(exc, source=source, line_of=index.line_of)
        ) from exc


def read_text(file: Path) -> str:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            message = f"the file has {size} bytes; at most {MAX_FILE_BYTES} are allowed"
            raise InputProblems([Problem(str(file), "(file)", None, message)])
        return file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputProblems(
            [Problem(str(file), "(file)", None, f"cannot read: {exc.strerror}")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputProblems(
            [
                Problem(
                    str(file),
                    "(file)",
                    None,
                    f"not UTF-8 text (byte {exc.start + 1} cannot be decoded); is it a binary file?",
                )
            ]
        ) from exc
