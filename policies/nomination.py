"""The nomination: exactly what NGC's call asks a nominator to provide.

A :class:`Nomination` is validated against the policy's vocabularies (passed in
as validation context), so operations can extend the allowed data types or
task types without a code change.  Parsing files into raw records is the
shell's job (``ngc_pilot.intake``); this module only says what a valid record
is and why an invalid one is not.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from policies.units import SizeError, parse_size

MAX_PITCH_WORDS = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _vocabulary(info: ValidationInfo, name: str) -> dict[str, str] | None:
    context = info.context or {}
    vocabularies = context.get("vocabularies")
    return getattr(vocabularies, name, None) if vocabularies is not None else None


def _check_values(values: list[str], info: ValidationInfo, name: str) -> list[str]:
    allowed = _vocabulary(info, name)
    if not values:
        raise ValueError("give at least one value")
    if len(set(values)) != len(values):
        raise ValueError(f"values are repeated: {values}")
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ValueError(
                f"unknown value(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}"
            )
    return values


class Person(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=254)]

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("expected an e-mail address like name@example.org")
        return value


class DataDescription(_Strict):
    volume: Annotated[str, Field(description="e.g. '120 TB'; decimal or binary units")]
    types: list[str]
    sources: list[str]
    subjects: Annotated[int, Field(ge=0, description="number of research subjects")]

    @field_validator("volume", mode="before")
    @classmethod
    def _volume(cls, value: Any) -> str:
        try:
            parse_size(value)
        except SizeError as exc:
            raise ValueError(str(exc)) from exc
        return str(value).strip()

    @field_validator("types")
    @classmethod
    def _types(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_values(value, info, "data_types")

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_values(value, info, "data_sources")

    @property
    def volume_bytes(self) -> int:
        return parse_size(self.volume)


class Resources(_Strict):
    vcpus: Annotated[int, Field(ge=0, le=1_000_000)]
    ram_gb: Annotated[int, Field(ge=0, le=100_000_000)]
    gpus: Annotated[int, Field(ge=0, le=10_000)]
    storage_tb: Annotated[float, Field(ge=0, le=1_000_000)]


class EligibilityStatement(_Strict):
    personalised_medicine: bool
    societal_interest: bool
    data_processing_agreement: Literal["signed", "in_progress", "none"]


class Nomination(_Strict):
    """One nominated project, as the nominator submitted it."""

    id: Annotated[str, Field(description="the nominator's reference; unique")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    principal_investigator: Person
    institution: Annotated[str, Field(min_length=1, max_length=200)]
    institution_type: str
    nominated_by: Annotated[str, Field(min_length=1, max_length=200)]
    pitch: Annotated[str, Field(min_length=1, description=f"at most {MAX_PITCH_WORDS} words")]
    data: DataDescription
    resources: Resources
    task_types: list[str]
    access_months: Annotated[int, Field(ge=1, le=60)]
    maturity: Annotated[int, Field(ge=1, le=5)]
    ready_date: date
    commits_to_evaluation: bool
    eligibility: EligibilityStatement

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("pitch")
    @classmethod
    def _pitch(cls, value: str) -> str:
        words = len(value.split())
        if words > MAX_PITCH_WORDS:
            raise ValueError(f"the pitch has {words} words; at most {MAX_PITCH_WORDS} are allowed")
        return value

    @field_validator("institution_type")
    @classmethod
    def _institution_type(cls, value: str, info: ValidationInfo) -> str:
        return _check_values([value], info, "institution_types")[0]

    @field_validator("task_types")
    @classmethod
    def _task_types(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_values(value, info, "task_types")


def nomination_json_schema(vocabularies: Any = None) -> dict[str, Any]:
    """JSON Schema of an intake file (``{"applications": [...]}``).

    With the policy's ``vocabularies`` the list fields carry their allowed
    values as ``enum``, so editors can complete and check them.
    """
    item = Nomination.model_json_schema()
    defs = item.pop("$defs", {})
    if vocabularies is not None:
        item["properties"]["institution_type"]["enum"] = list(vocabularies.institution_types)
        item["properties"]["task_types"]["items"]["enum"] = list(vocabularies.task_types)
        data = defs["DataDescription"]["properties"]
        data["types"]["items"]["enum"] = list(vocabularies.data_types)
        data["sources"]["items"]["enum"] = list(vocabularies.data_sources)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ngc-pilot nominations",
        "type": "object",
        "required": ["applications"],
        "additionalProperties": False,
        "properties": {"applications": {"type": "array", "items": {"$ref": "#/$defs/Nomination"}}},
        "$defs": {**defs, "Nomination": item},
    }
