"""PATCH bodies: JSON merge patch, strategic merge patch (simple cases), JSON patch.

Strategic merge here means: maps merge recursively, ``null`` deletes a key,
and a list whose items are all maps carrying ``name`` (containers, ports,
volumes, env) is merged item by item on that key; other lists are replaced.
Not emulated: ``$patch`` directives, ``$retainKeys``, ``$setElementOrder`` and
per-field merge keys other than ``name``; server-side apply (refused with 415).
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _keyed(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)


def strategic_merge(target: Any, patch: Any) -> Any:
    if isinstance(patch, list) and _keyed(patch) and _keyed(target):
        merged = [copy.deepcopy(i) for i in target]
        index = {item["name"]: pos for pos, item in enumerate(merged)}
        for item in patch:
            if item["name"] in index:
                pos = index[item["name"]]
                merged[pos] = strategic_merge(merged[pos], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"json patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise errors.bad_request("a json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if not parts:
                raise errors.bad_request("json patch on the whole object is not supported")
            parent, last = _parent(doc, parts), parts[-1]
            if kind in ("add", "replace"):
                if isinstance(parent, list):
                    pos = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(pos, copy.deepcopy(op["value"]))
                    else:
                        parent[pos] = copy.deepcopy(op["value"])
                else:
                    if kind == "replace" and last not in parent:
                        raise KeyError(last)
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif kind == "test":
                value = parent[int(last)] if isinstance(parent, list) else parent[last]
                if value != op["value"]:
                    raise errors.ApiError(
                        422, "Invalid", f"the json patch test at {op['path']} failed"
                    )
            else:
                raise errors.bad_request(f"json patch op {kind!r} is not supported")
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise errors.ApiError(
                422, "Invalid", f"the json patch {op!r} does not apply: {e!r}"
            ) from e
    return doc


def apply(content_type: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip()
    if kind == MERGE:
        return merge_patch(target, patch)
    if kind == STRATEGIC:
        return strategic_merge(target, patch)
    if kind == JSON_PATCH:
        return json_patch(target, patch)
    raise errors.ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE}, {STRATEGIC} (the Kubernetes API emulator does not do apply)",
    )
