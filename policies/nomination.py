"""The nomination: exactly what NGC's call asks a nominator to provide.

A :class:`Nomination` is validated against the policy's vocabularies (passed in
as validation context), so operations can extend the allowed data types or
task types without a code change.  Parsing files into raw records is the
shell's job (``ngc_pilot.intake``); this module only says what a valid record
is and why an invalid one is not.

Every text taken in is bounded and free of control characters (they would
reach an operator's terminal), every integer is a real integer (``true`` is
not 1), and
ids are compared by :func:`id_key`, the same folding the cloud's project names
get, so two nominations can never map to one tenant.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from policies import member_keys
from policies.units import SizeError, parse_size

MAX_PITCH_WORDS = 200
MAX_PITCH_CHARS = 3000
"""200 words of 15 characters: a pitch longer than this is not 200 words of prose."""
MAX_VOLUME_BYTES = 10**18
"""1000 PB, a thousand times NGC's whole storage, and within a 64-bit column."""
# C0 and C1 control characters, DEL; tab and newline are allowed where text may span lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTI_LINE_FIELDS = {"pitch"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


ID_RULE = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_valid_id(value: str) -> bool:
    """Whether ``value`` is a nomination (and pilot) id: also safe as one path component."""
    return bool(_ID.fullmatch(value)) and value not in (".", "..")


def id_key(value: str) -> str:
    """The form under which two ids are the same nomination, and the same cloud project.

    Cloud project names are the lower-cased id (``provisioner.desired``); this
    folds case the Unicode way (NFKC, then casefold) and drops surrounding
    whitespace, so ``ACC-1``, ``acc-1`` and ``ａｃｃ-1`` are one id.
    """
    return unicodedata.normalize("NFKC", value).strip().casefold()


def _refuse_control(value: Any, multi_line: bool) -> None:
    texts = value if isinstance(value, list) else [value]
    pattern = _CONTROL if multi_line else _CONTROL_ONE_LINE
    for text in texts:
        if isinstance(text, str):
            found = pattern.search(text)
            if found:
                raise ValueError(
                    f"contains the control character U+{ord(found.group()):04X} at position "
                    f"{found.start() + 1}; only printable text is allowed"
                    + (" (and tab, newline)" if multi_line else "")
                )


def _at_intake(info: ValidationInfo) -> bool:
    """Whether a record is being taken in (validated with the policy's vocabularies as
    context), not a stored document being read back: rules added later (control
    characters, the pitch's length) must not make a database from before them unreadable."""
    return info.context is not None


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


Count = Annotated[int, BeforeValidator(_no_bool)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        if _at_intake(info):
            _refuse_control(value, info.field_name in _MULTI_LINE_FIELDS)
        return value


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
    # The language of the notices this person gets (request decisions, the monthly
    # statement); unset means Danish.  Optional so stored nominations stay as they were.
    language: Literal["da", "en"] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("expected an e-mail address like name@example.org")
        return value


class MemberEntry(_Strict):
    """A researcher besides the PI, given their own access when the tenant is provisioned."""

    email: Annotated[str, Field(max_length=254)]
    name: Annotated[str | None, Field(default=None, min_length=1, max_length=200)] = None
    role: Literal["member", "reader"] = "member"
    language: Literal["da", "en"] = "da"
    age_recipient: Annotated[str | None, Field(description="age public key (age1…)")] = None
    ssh_key: Annotated[str | None, Field(description="OpenSSH public key line")] = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("expected an e-mail address like name@example.org")
        return value.lower()

    @field_validator("age_recipient")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        return None if value is None else member_keys.check_age_recipient(value)

    @field_validator("ssh_key")
    @classmethod
    def _ssh(cls, value: str | None) -> str | None:
        return None if value is None else member_keys.check_ssh_key(value)


class DataDescription(_Strict):
    volume: Annotated[str, Field(description="e.g. '120 TB'; decimal or binary units")]
    types: list[str]
    sources: list[str]
    subjects: Annotated[
        Count, Field(ge=0, le=1_000_000_000, description="number of research subjects")
    ]

    @field_validator("volume", mode="before")
    @classmethod
    def _volume(cls, value: Any) -> str:
        try:
            size = parse_size(value)
        except SizeError as exc:
            raise ValueError(str(exc)) from exc
        if size > MAX_VOLUME_BYTES:
            raise ValueError("a data volume of at most 1000 PB is allowed")
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
    vcpus: Annotated[Count, Field(ge=0, le=1_000_000)]
    ram_gb: Annotated[Count, Field(ge=0, le=100_000_000)]
    gpus: Annotated[Count, Field(ge=0, le=10_000)]
    storage_tb: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]

    @field_validator("storage_tb", mode="before")
    @classmethod
    def _storage(cls, value: Any) -> Any:
        return _no_bool(value)


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
    pitch: Annotated[
        str,
        Field(
            min_length=1,
            description=f"at most {MAX_PITCH_WORDS} words and {MAX_PITCH_CHARS} characters",
        ),
    ]
    data: DataDescription
    resources: Resources
    task_types: list[str]
    access_months: Annotated[Count, Field(ge=1, le=60)]
    maturity: Annotated[Count, Field(ge=1, le=5)]
    ready_date: date
    commits_to_evaluation: bool
    eligibility: EligibilityStatement
    # Optional; None (not an empty list) when absent, so documents stored before
    # members existed compare equal on re-import.
    members: Annotated[
        list[MemberEntry] | None, Field(description="researchers besides the PI", max_length=100)
    ] = None

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[MemberEntry] | None) -> list[MemberEntry] | None:
        if value is not None:
            emails = [m.email for m in value]
            twice = sorted({e for e in emails if emails.count(e) > 1})
            if twice:
                raise ValueError(f"listed more than once: {', '.join(twice)}")
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not is_valid_id(value):
            raise ValueError(ID_RULE)
        return value

    @field_validator("pitch")
    @classmethod
    def _pitch(cls, value: str, info: ValidationInfo) -> str:
        if _at_intake(info) and len(value) > MAX_PITCH_CHARS:
            raise ValueError(
                f"the pitch has {len(value)} characters; at most {MAX_PITCH_CHARS} are allowed"
            )
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
