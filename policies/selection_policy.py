"""The selection policy: vocabularies, eligibility, scoring, heterogeneity, limits.

Operations edit ``selection.yaml`` (shipped beside this module) or point the
service at their own file.  Loading validates the whole file into frozen
pydantic models and reports *every* problem at once with its line, so a bad
edit is fixed in one round.  This module only describes and validates the
policy; applying it lives in ``eligibility``, ``scoring`` and ``portfolio``.
"""

from __future__ import annotations

import math
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.policyfile import parse_model, read_text
from policies.units import SizeError, parse_size

DPA_STATUSES = ("signed", "in_progress", "none")
ATTRIBUTE_NAMES = (
    "data_types",
    "data_sources",
    "task_types",
    "institution_type",
    "data_volume",
    "compute_need",
    "readiness",
)


class _Frozen(BaseModel):
    # inf and nan pass ``ge=0`` and then make the objective inf/nan: refused here.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


MAX_WEIGHT = 1000.0
"""Largest weight: quality is on a 0-100 scale, so 1000 leaves room and keeps sums finite."""
MAX_COUNT = 1_000_000_000
MAX_SIZE_BYTES = 10**18
"""Largest data-volume bound (1000 PB), as for a nomination's volume."""
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class PilotPeriod(_Frozen):
    """When the pilot runs; pilots are planned inside it."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> PilotPeriod:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class SelectionLimits(_Frozen):
    k_min: Annotated[int, Field(ge=1, le=1000, description="fewest pilots in a selection")]
    k_max: Annotated[int, Field(ge=1, le=1000, description="most pilots in a selection")]
    per_institution_cap: Annotated[
        int, Field(ge=1, le=1000, description="most pilots from one institution")
    ]
    time_limit_seconds: Annotated[
        float, Field(gt=0, le=3600, description="solver wall-clock limit")
    ] = 10.0
    max_values_per_attribute: Annotated[
        int,
        Field(
            ge=1, le=100, description="list values of one attribute that earn coverage per project"
        ),
    ] = 3

    @model_validator(mode="after")
    def _range(self) -> SelectionLimits:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class Capacity(_Frozen):
    """What the pilot may allocate in total, per resource."""

    vcpus: Count
    ram_gb: Count
    storage_tb: Annotated[float, Field(ge=0, le=MAX_COUNT)]
    gpus: Count

    def as_dict(self) -> dict[str, float]:
        return {
            "vcpus": self.vcpus,
            "ram_gb": self.ram_gb,
            "storage_tb": self.storage_tb,
            "gpus": self.gpus,
        }


class Vocabularies(_Frozen):
    """Allowed values (with a one-line meaning each); operations may extend them."""

    institution_types: dict[str, str]
    data_types: dict[str, str]
    data_sources: dict[str, str]
    task_types: dict[str, str]

    @field_validator("*")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("a vocabulary needs at least one value")
        for key in value:
            if not key or not key.replace("_", "").isalnum() or key != key.lower():
                raise ValueError(f"value {key!r} must be lower_snake_case")
        return value


class EligibilityRules(_Frozen):
    """The legal basis: what a pilot must be to use NGC's infrastructure at all."""

    require_personalised_medicine: bool = True
    require_societal_interest: bool = True
    data_processing_agreement_allowed: list[Literal["signed", "in_progress", "none"]] = [
        "signed",
        "in_progress",
    ]
    require_ready_before_pilot_end: bool = True


class ScoreWeights(_Frozen):
    maturity: Weight
    readiness: Weight
    commitment: Weight
    data_volume: Weight


class Scoring(_Frozen):
    """Quality points per project; weights are the points a perfect project earns."""

    weights: ScoreWeights
    data_volume_floor: str = "1 GB"
    data_volume_ceiling: str = "1 PB"

    @field_validator("data_volume_floor", "data_volume_ceiling")
    @classmethod
    def _size(cls, value: str) -> str:
        try:
            size = parse_size(value)
        except SizeError as exc:
            raise ValueError(str(exc)) from exc
        # the score is log(volume / floor): a zero floor divides by zero
        if not 1 <= size <= MAX_SIZE_BYTES:
            raise ValueError("must be at least 1 B and at most 1000 PB")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Scoring:
        if parse_size(self.data_volume_ceiling) <= parse_size(self.data_volume_floor):
            raise ValueError("data_volume_ceiling must be larger than data_volume_floor")
        return self


class Bucket(_Frozen):
    name: str
    below: str | float | None = None  # exclusive upper bound; the last bucket has none


class Attribute(_Frozen):
    weight: Annotated[
        float,
        Field(ge=0, le=MAX_WEIGHT, description="points for the first project covering a value"),
    ]
    buckets: list[Bucket] | None = None


class Heterogeneity(_Frozen):
    """How a portfolio earns points for covering different attribute values."""

    repeat_credit: list[Annotated[float, Field(ge=0, le=1)]]
    attributes: dict[str, Attribute]

    @field_validator("repeat_credit")
    @classmethod
    def _diminishing(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one credit (for the first project covering a value)")
        if any(b > a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(f"credits must not increase (diminishing returns), got {value}")
        return value

    @field_validator("attributes")
    @classmethod
    def _known(cls, value: dict[str, Attribute]) -> dict[str, Attribute]:
        problems = []
        for name, attribute in value.items():
            if name not in ATTRIBUTE_NAMES:
                problems.append(
                    f"unknown attribute {name!r}; allowed: {', '.join(ATTRIBUTE_NAMES)}"
                )
            needs_buckets = name in ("data_volume", "compute_need")
            if needs_buckets and not attribute.buckets:
                problems.append(f"attribute {name!r} needs buckets")
            if attribute.buckets:
                problems.extend(_bucket_problems(name, attribute.buckets))
        if problems:
            raise ValueError("; ".join(problems))
        return value


def _bucket_problems(name: str, buckets: list[Bucket]) -> list[str]:
    problems = []
    bounds: list[float] = []
    for i, bucket in enumerate(buckets):
        last = i == len(buckets) - 1
        if bucket.below is None:
            if not last:
                problems.append(
                    f"{name} bucket {bucket.name!r}: only the last bucket may omit 'below'"
                )
            continue
        if last:
            problems.append(f"{name} bucket {bucket.name!r}: the last bucket must omit 'below'")
        try:
            bound = (
                float(parse_size(bucket.below)) if name == "data_volume" else float(bucket.below)
            )
        except (SizeError, ValueError) as exc:
            problems.append(f"{name} bucket {bucket.name!r}: bad bound {bucket.below!r} ({exc})")
            continue
        if not math.isfinite(bound) or abs(bound) > 10**21:
            problems.append(
                f"{name} bucket {bucket.name!r}: bound {bucket.below!r} is not a finite number "
                "of at most 1e21"
            )
            continue
        if bounds and bound <= bounds[-1]:
            problems.append(f"{name} bucket {bucket.name!r}: bounds must increase")
        bounds.append(bound)
    return problems


class SelectionPolicy(_Frozen):
    """The whole selection policy, as validated from ``selection.yaml``."""

    version: Literal[1]
    pilot_period: PilotPeriod
    selection: SelectionLimits
    capacity: Capacity
    vocabularies: Vocabularies
    maturity_levels: dict[int, str]
    eligibility: EligibilityRules = EligibilityRules()
    scoring: Scoring
    heterogeneity: Heterogeneity
    digest: str = ""  # sha256 of the file text, filled in by the loader

    @field_validator("maturity_levels")
    @classmethod
    def _levels(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [1, 2, 3, 4, 5]:
            raise ValueError(f"define exactly the levels 1..5, got {sorted(value)}")
        return value


def default_policy_path() -> Path:
    """The shipped ``selection.yaml``."""
    return Path(str(resources.files("policies").joinpath("selection.yaml")))


def parse_policy(text: str, source: str = "selection.yaml") -> SelectionPolicy:
    """Validate policy ``text``; raise :class:`InputProblems` listing every problem."""
    return parse_model(text, source, SelectionPolicy)


def load_policy(path: Path | str | None = None) -> SelectionPolicy:
    """Load and validate a policy file (the shipped default when ``path`` is None)."""
    file = Path(path) if path is not None else default_policy_path()
    text = read_text(file)
    return parse_policy(text, source=str(file))
