"""Label and field selectors on list and deletecollection, equality-based only.

``a=b``, ``a==b``, ``a!=b``, ``a`` (exists), ``!a``, and ``a in (x,y)`` /
``a notin (x,y)`` for labels; ``metadata.name``, ``metadata.namespace`` and
``status.phase`` with ``=``/``!=`` for fields. Anything else is a 400.
"""

from __future__ import annotations

import re
from typing import Any

from . import errors

_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _term(term: str, values: dict[str, str]) -> bool:
    match = _SET.match(term)
    if match:
        key, op, items = match.groups()
        wanted = {i.strip() for i in items.split(",")}
        return (values.get(key) in wanted) if op == "in" else (values.get(key) not in wanted)
    if "!=" in term:
        key, value = (s.strip() for s in term.split("!=", 1))
        return values.get(key) != value
    if "==" in term or "=" in term:
        key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
        return values.get(key) == value
    if term.startswith("!"):
        return term[1:].strip() not in values
    return term in values


def label_match(selector: str | None, obj: dict[str, Any]) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(_term(t, labels) for t in _split(selector))


def field_match(selector: str | None, obj: dict[str, Any]) -> bool:
    if not selector:
        return True
    meta = obj.get("metadata") or {}
    fields = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "status.phase": (obj.get("status") or {}).get("phase", ""),
    }
    for term in _split(selector):
        key = re.split(r"!=|==|=", term, maxsplit=1)[0].strip()
        if key not in fields:
            raise errors.bad_request(
                f'"{key}" is not a known field selector: only {", ".join(fields)}'
            )
        if not _term(term, fields):
            return False
    return True
