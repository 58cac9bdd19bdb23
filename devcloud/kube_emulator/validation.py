"""Request bodies checked against one pinned Kubernetes version's OpenAPI schemas.

The schemas come from kubernetes-validate (strict variant: unknown fields are
refused, as ``kubectl --validate=strict`` does); on top of them the checks
those schemas cannot express: DNS-1123 object names, label keys and values,
quantity syntax, and requests not above limits. Every problem becomes a
(field, message) pair for a 422 ``Status``.

It does not implement the API server's full per-field validation (immutable
fields, every enum and cross-field rule); only what is listed above.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import referencing
from kubernetes_validate.utils import schema_contents

from . import quantity
from .resources import LABEL, PATH_SEGMENT, Resource

KUBERNETES_VERSION = (
    "1.37.0"  # the schemas every body is checked against (kubernetes-validate 1.37.0)
)
_SCHEMA_DIR = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
# maps whose values are quantities, wherever they appear in a body
_QUANTITY_MAPS = {
    "requests",
    "limits",
    "hard",
    "default",
    "defaultRequest",
    "max",
    "min",
    "capacity",
    "allocatable",
    "used",
}

Problems = list[tuple[str, str]]


@functools.cache
def _definitions() -> referencing.Resource:
    return referencing.Resource.from_contents(
        schema_contents(f"{_SCHEMA_DIR}/_definitions.json", KUBERNETES_VERSION)
    )


@functools.cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = schema_contents(
        f"{_SCHEMA_DIR}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION
    )
    registry = _definitions() @ (
        referencing.Resource.from_contents(schema) @ referencing.Registry()
    )
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def field_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def schema_problems(body: dict[str, Any], kind: str, api_version: str) -> Problems:
    errors = sorted(_validator(kind, api_version).iter_errors(body), key=lambda e: list(e.path))
    return [(field_path(e.path) or "<body>", e.message) for e in errors]


def name_problem(name: str, rule: str, field: str = "metadata.name") -> tuple[str, str] | None:
    if rule == PATH_SEGMENT:
        if name in (".", "..") or "/" in name or "%" in name:
            return (field, f'Invalid value: "{name}": may not be "." or ".." or contain "/" or "%"')
        return None
    if rule == LABEL:
        if len(name) > 63 or not _LABEL_RE.match(name):
            return (
                field,
                f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                "alphanumeric characters or '-', start and end with an alphanumeric character, "
                "and be at most 63 characters",
            )
        return None
    if len(name) > 253 or not _SUBDOMAIN_RE.match(name):
        return (
            field,
            f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (at most 253 characters)",
        )
    return None


def _label_key_problem(key: str, field: str) -> tuple[str, str] | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN_RE.match(prefix)):
        return (field, f'Invalid value: "{key}": prefix part must be a DNS-1123 subdomain')
    if not name or len(name) > 63 or not _QUALIFIED_RE.match(name):
        return (
            field,
            f'Invalid value: "{key}": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', start and end with an alphanumeric character, at most 63 characters",
        )
    return None


def _metadata_problems(meta: dict[str, Any], resource: Resource) -> Problems:
    problems: Problems = []
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        problems.append(("metadata.name", "Required value: name or generateName is required"))
    elif name:
        problem = name_problem(name, resource.names)
        if problem:
            problems.append(problem)
    ns = meta.get("namespace")
    if resource.namespaced and ns:
        problem = name_problem(ns, LABEL, "metadata.namespace")
        if problem:
            problems.append(problem)
    for key, value in (meta.get("labels") or {}).items():
        field = f"metadata.labels[{key}]"
        problem = _label_key_problem(key, field)
        if problem:
            problems.append(problem)
        if value and (len(value) > 63 or not _QUALIFIED_RE.match(value)):
            problems.append(
                (
                    field,
                    f'Invalid value: "{value}": a valid label value must be an empty string or '
                    "consist of alphanumeric characters, '-', '_' or '.', start and end with an "
                    "alphanumeric character, at most 63 characters",
                )
            )
    for key in meta.get("annotations") or {}:
        problem = _label_key_problem(key, f"metadata.annotations[{key}]")
        if problem:
            problems.append(problem)
    return problems


def _quantity_problems(node: Any, path: str) -> Problems:
    problems: Problems = []
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if key in _QUANTITY_MAPS and isinstance(value, dict):
                for res, q in value.items():
                    if isinstance(q, dict):  # LimitRange max/min are flat, but be safe
                        continue
                    if not quantity.is_quantity(q):
                        problems.append(
                            (f"{sub}[{res}]", f'Invalid value: "{q}": must be {quantity.ALLOWED}')
                        )
                    elif quantity.parse(q) < 0:
                        problems.append(
                            (
                                f"{sub}[{res}]",
                                f'Invalid value: "{q}": must be greater than or equal to 0',
                            )
                        )
            else:
                problems.extend(_quantity_problems(value, sub))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            problems.extend(_quantity_problems(item, f"{path}[{i}]"))
    return problems


def _container_problems(spec: dict[str, Any]) -> Problems:
    problems: Problems = []
    for list_name in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(list_name) or []):
            field = f"spec.{list_name}[{i}]"
            problem = name_problem(container.get("name", ""), LABEL, f"{field}.name")
            if problem:
                problems.append(problem)
            res = container.get("resources") or {}
            requests, limits = res.get("requests") or {}, res.get("limits") or {}
            for key, req in requests.items():
                if (
                    key in limits
                    and quantity.is_quantity(req)
                    and quantity.is_quantity(limits[key])
                ):
                    if quantity.parse(req) > quantity.parse(limits[key]):
                        problems.append(
                            (
                                f"{field}.resources.requests",
                                f'Invalid value: "{req}": must be less than or equal to '
                                f"{key} limit of {limits[key]}",
                            )
                        )
    return problems


def problems(body: dict[str, Any], resource: Resource) -> Problems:
    """Every problem with ``body`` as a ``resource`` object; empty when it is valid."""
    found = schema_problems(body, resource.kind, resource.api_version)
    meta = body.get("metadata")
    if isinstance(meta, dict) and resource.kind != "SelfSubjectAccessReview":
        found += _metadata_problems(meta, resource)
    if not found:  # the typed checks below assume the schema's shapes
        found += _quantity_problems(body, "")
        if resource.kind == "Pod":
            found += _container_problems(body.get("spec") or {})
    return found
