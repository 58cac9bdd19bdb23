"""The nomination form's fields, and how their text becomes an import record.

The form must validate exactly like a file import, so it builds the same raw
record a CSV row becomes (dotted keys nested, empty cells left out so that
"required field is missing" reads the same, lists split on ``;`` or ``,``) and
hands it to the same model.  Pure: no widgets here, so it is unit-testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "list", "long", "choice", "flag"]


@dataclass(frozen=True)
class Field:
    key: str  # dotted path in the record, as in a CSV header
    label: str
    kind: Kind = "text"
    hint: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (label, value) for "choice"


def fields(vocabularies: Any, maturity_levels: Mapping[int, str]) -> tuple[Field, ...]:
    """Every field of a nomination, in the order of the call for nominations."""

    def allowed(vocabulary: Mapping[str, str]) -> str:
        return "allowed: " + ", ".join(vocabulary)

    return (
        Field("id", "Reference (id)", hint="the nominator's reference, e.g. RH-2021-07"),
        Field("name", "Project name"),
        Field("principal_investigator.name", "PI name"),
        Field("principal_investigator.email", "PI e-mail"),
        Field("institution", "Institution"),
        Field(
            "institution_type",
            "Institution type",
            "choice",
            choices=tuple((f"{k} — {v}", k) for k, v in vocabularies.institution_types.items()),
        ),
        Field("nominated_by", "Nominated by", hint="region or university"),
        Field("pitch", "Pitch", "long", hint="at most 200 words"),
        Field("data.volume", "Data volume", hint="e.g. 120 TB (B..PB or KiB..PiB)"),
        Field("data.types", "Data types", "list", hint=allowed(vocabularies.data_types)),
        Field("data.sources", "Data sources", "list", hint=allowed(vocabularies.data_sources)),
        Field("data.subjects", "Research subjects", hint="number of persons"),
        Field("resources.vcpus", "vCPUs"),
        Field("resources.ram_gb", "RAM (GB)"),
        Field("resources.gpus", "GPUs"),
        Field("resources.storage_tb", "Storage (TB)"),
        Field("task_types", "Task types", "list", hint=allowed(vocabularies.task_types)),
        Field("access_months", "Access (months)"),
        Field(
            "maturity",
            "Maturity",
            "choice",
            choices=tuple((f"{k} — {v}", str(k)) for k, v in sorted(maturity_levels.items())),
        ),
        Field("ready_date", "Ready to start", hint="YYYY-MM-DD"),
        Field("commits_to_evaluation", "Commits significant resources to evaluation", "flag"),
        Field("eligibility.personalised_medicine", "Within personalised medicine", "flag"),
        Field("eligibility.societal_interest", "Of societal interest", "flag"),
        Field(
            "eligibility.data_processing_agreement",
            "Data processing agreement",
            "choice",
            choices=(("signed", "signed"), ("in progress", "in_progress"), ("none", "none")),
        ),
    )


def record_from_values(values: Mapping[str, Any], kinds: Mapping[str, Kind]) -> dict[str, Any]:
    """Nest dotted keys; drop blank text; split lists; keep flags as booleans."""
    record: dict[str, Any] = {}
    for key, raw in values.items():
        kind = kinds.get(key, "text")
        if kind == "flag":
            value: Any = bool(raw)
        else:
            if raw is None:
                continue
            text = str(raw).strip()
            if not text:
                continue
            value = (
                [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]
                if kind == "list"
                else text
            )
        cursor = record
        *parents, leaf = key.split(".")
        for part in parents:
            cursor = cursor.setdefault(part, {})
        cursor[leaf] = value
    return record


def values_from_document(document: Mapping[str, Any], kinds: Mapping[str, Kind]) -> dict[str, Any]:
    """The form's values for a stored nomination document (the inverse of the above)."""
    values: dict[str, Any] = {}
    for key, kind in kinds.items():
        cursor: Any = document
        for part in key.split("."):
            cursor = cursor.get(part) if isinstance(cursor, Mapping) else None
        if cursor is None:
            values[key] = False if kind == "flag" else ""
        elif kind == "list":
            values[key] = "; ".join(str(v) for v in cursor)
        elif kind == "flag":
            values[key] = bool(cursor)
        elif isinstance(cursor, float) and cursor.is_integer():
            values[key] = f"{cursor:g}"
        else:
            values[key] = str(cursor)
    return values
