"""One shape for "this input is wrong": where, which field, which value, what is allowed.

Intake files and policy files are both validated "all errors at once"; both
report through :class:`Problem` so the CLI and the TUI print them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

_MISSING = object()


@dataclass(frozen=True)
class Problem:
    """A single thing wrong with an input, located as precisely as we can."""

    source: str
    field: str
    value: Any
    message: str
    line: int | None = None
    record: str | None = None

    def location(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where} [{self.record}]" if self.record else where

    def __str__(self) -> str:
        value = "(missing)" if self.value is _MISSING else repr(self.value)
        if len(value) > 80:
            value = value[:60] + f"… ({len(value)} characters)"
        return f"{self.location()}: {self.field} = {value}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "record": self.record,
            "field": self.field,
            "value": None if self.value is _MISSING else _plain(self.value),
            "missing": self.value is _MISSING,
            "message": self.message,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class InputProblems(ValueError):
    """Raised when an input has one or more :class:`Problem` s; carries them all."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if error.get("type") == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if error.get("type") == "missing":
        return "required field is missing"
    return msg


def problems_from_validation(
    exc: ValidationError,
    *,
    source: str,
    base_path: Sequence[str | int] = (),
    line_of: Callable[[Sequence[str | int]], int | None] | None = None,
    record: str | None = None,
) -> list[Problem]:
    """Turn pydantic's errors into :class:`Problem` s with dotted field names and lines."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = [part for part in error["loc"] if not _is_tag(part)]
        field = ".".join(str(p) for p in loc) or "(record)"
        value = _MISSING if error.get("type") == "missing" else error.get("input")
        line = line_of(list(base_path) + loc) if line_of else None
        problems.append(
            Problem(
                source=source,
                field=field,
                value=value,
                message=_message(error),
                line=line,
                record=record,
            )
        )
    return problems


def _is_tag(part: str | int) -> bool:
    # pydantic adds validator names such as "function-after[...]" to locations.
    return isinstance(part, str) and ("[" in part and "]" in part)
