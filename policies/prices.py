"""The price list (``prices.yaml``): effective-dated unit prices and the pilot discount.

Why this exists: the pilot tests NGC's payment model while charging nothing,
so the prices must be policy (a file operations can read, diff and change),
not code.  This module validates that file — every problem at once, each with
its line — and answers "which version applies on this day" and "which discount".

Deliberately not here: turning usage into money (``policies/rating.py``) and
anything that reads the database (``ngc_pilot/billing.py``).

Conventions
-----------
* ``valid_until`` and the discount's ``until`` are exclusive (the first day
  that no longer applies); a version without ``valid_until`` is open-ended.
* Versions must not overlap and must follow each other without a gap, so every
  day from the first ``valid_from`` on is priced by exactly one version.
* Prices are quoted decimal strings; a YAML float is refused, because
  ``0.1`` as a float is not 0.1.
* Each version has a :attr:`PriceVersion.digest` over its id, the currency and
  its unit prices — what it *charges*.  Its dates are deliberately not part of
  the digest: closing an open version so that a successor can follow is the
  normal way to change prices and must not look like rewriting history.
  (Moving dates so that an already rated period changes version is caught by
  ``ngc_pilot.billing`` from the periods recorded on the invoices.)
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from policies.policyfile import parse_model, read_text
from policies.problems import InputProblems, Problem
from policies.yamlfile import load_with_lines

PRICE_FIELDS = ("vcpu_hour", "ram_gb_hour", "storage_tb_month", "gpu_hour", "base_fee_month")


def _decimal_string(value: Any) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f'write the price as a quoted decimal string (e.g. "{value}"), not a YAML number: '
            "floats cannot hold money exactly"
        )
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError('expected a quoted decimal string such as "0.30"')
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ValueError('not a decimal number; write e.g. "0.30"') from exc
    if not number.is_finite():
        raise ValueError("must be a finite decimal number")
    return number


MAX_UNIT_PRICE = Decimal(1_000_000)
"""Largest unit price (DKK): far above any real one, small enough that a year of a
whole cloud's usage still fits the invoice's money columns."""


def _unit_price(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_UNIT_PRICE:
        raise ValueError(f"must be at most {MAX_UNIT_PRICE} DKK per unit")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise ValueError("at most 6 decimal places (the invoice stores unit prices to 6 places)")
    return value


def _plain(value: Decimal) -> str:
    """``Decimal`` as a plain string without an exponent or trailing zeros (0.300 -> 0.3)."""
    return format(value.normalize(), "f")


UnitPrice = Annotated[Decimal, BeforeValidator(_decimal_string), AfterValidator(_unit_price)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class UnitPrices(_Frozen):
    """DKK per unit.  Storage is per decimal TB (10^12 bytes) per calendar month."""

    vcpu_hour: UnitPrice
    ram_gb_hour: UnitPrice
    storage_tb_month: UnitPrice
    gpu_hour: UnitPrice
    base_fee_month: UnitPrice

    def get(self, name: str) -> Decimal:
        return getattr(self, name)  # type: ignore[no-any-return]


class PriceVersion(_Frozen):
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    valid_from: date
    valid_until: date | None = None
    prices: UnitPrices

    @cached_property
    def digest(self) -> str:
        """sha256 of what this version charges (id, currency, unit prices); see the module doc."""
        payload = {
            "id": self.id,
            "currency": "DKK",
            "prices": {name: _plain(self.prices.get(name)) for name in PRICE_FIELDS},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def span(self) -> str:
        return f"{self.valid_from} until {self.valid_until or '(open)'}"


class PilotDiscount(_Frozen):
    """A percentage off the list amount of usage inside [from, until)."""

    percent: Annotated[Decimal, BeforeValidator(_decimal_string), Field(ge=0, le=100)]
    from_: date = Field(alias="from")
    until: date

    def applies(self, day: date) -> bool:
        return self.from_ <= day < self.until


class Discounts(_Frozen):
    pilot: PilotDiscount | None = None


class PriceList(_Frozen):
    format: Literal[1]
    currency: Literal["DKK"]
    versions: Annotated[list[PriceVersion], Field(min_length=1)]
    discounts: Discounts = Discounts()
    digest: str = ""  # sha256 of the whole file's text (set by the loader)
    source: str = ""  # where the file was read from, for messages

    def version_at(self, day: date) -> PriceVersion | None:
        for version in self.versions:
            if version.covers(day):
                return version
        return None

    def version(self, version_id: str) -> PriceVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)

    def span(self) -> str:
        last = self.versions[-1].valid_until
        return f"{self.versions[0].valid_from} until {last or '(open)'}"

    def describe(self) -> dict[str, Any]:
        """A plain-data view (for ``prices --json`` and the invoice record)."""
        pilot = self.discounts.pilot
        return {
            "source": self.source,
            "digest": self.digest,
            "currency": self.currency,
            "versions": [
                {
                    "id": v.id,
                    "valid_from": v.valid_from.isoformat(),
                    "valid_until": v.valid_until.isoformat() if v.valid_until else None,
                    "digest": v.digest,
                    "prices": {name: str(v.prices.get(name)) for name in PRICE_FIELDS},
                }
                for v in self.versions
            ],
            "discounts": {
                "pilot": None
                if pilot is None
                else {
                    "percent": str(pilot.percent),
                    "from": pilot.from_.isoformat(),
                    "until": pilot.until.isoformat(),
                }
            },
        }


def default_prices_path() -> Path:
    return Path(str(resources.files("policies").joinpath("prices.yaml")))


def parse_prices(text: str, source: str = "prices.yaml") -> PriceList:
    """Validate price list ``text``; raise :class:`InputProblems` listing every problem."""
    model = parse_model(text, source, PriceList)
    _, index = load_with_lines(text)
    problems = _check_versions(model, source, index.line_of)
    pilot = model.discounts.pilot
    if pilot is not None and pilot.until <= pilot.from_:
        problems.append(
            Problem(
                source,
                "discounts.pilot.until",
                pilot.until.isoformat(),
                f"must be after from ({pilot.from_}); until is exclusive",
                line=index.line_of(["discounts", "pilot", "until"]),
            )
        )
    if problems:
        raise InputProblems(problems)
    ordered = sorted(model.versions, key=lambda v: v.valid_from)
    return model.model_copy(update={"versions": ordered, "source": source})


def load_prices(path: Path | str | None = None) -> PriceList:
    file = Path(path) if path is not None else default_prices_path()
    return parse_prices(read_text(file), source=str(file))


def _check_versions(model: PriceList, source: str, line_of: Any) -> list[Problem]:
    """Cross-version rules pydantic cannot express per field: ids, dates, overlaps, gaps."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, version in enumerate(model.versions):
        if version.id in seen:
            first = seen[version.id]
            problems.append(
                Problem(
                    source,
                    f"versions.{i}.id",
                    version.id,
                    f"duplicate version id; versions.{first} (line {line_of(['versions', first, 'id'])}) "
                    "already uses it",
                    line=line_of(["versions", i, "id"]),
                )
            )
        seen.setdefault(version.id, i)
        if version.valid_until is not None and version.valid_until <= version.valid_from:
            problems.append(
                Problem(
                    source,
                    f"versions.{i}.valid_until",
                    version.valid_until.isoformat(),
                    f"must be after valid_from ({version.valid_from}); valid_until is exclusive",
                    line=line_of(["versions", i, "valid_until"]),
                )
            )
    if problems:
        return problems
    order = sorted(range(len(model.versions)), key=lambda i: model.versions[i].valid_from)
    for earlier_i, later_i in zip(order, order[1:], strict=False):
        earlier, later = model.versions[earlier_i], model.versions[later_i]
        earlier_line = line_of(["versions", earlier_i, "id"])
        if earlier.valid_until is None or earlier.valid_until > later.valid_from:
            problems.append(
                Problem(
                    source,
                    f"versions.{later_i}.valid_from",
                    later.valid_from.isoformat(),
                    f"version '{later.id}' ({later.span()}) overlaps version '{earlier.id}' "
                    f"({earlier.span()}, line {earlier_line}); versions must not overlap: "
                    f"set '{earlier.id}' valid_until (exclusive) to {later.valid_from} or earlier",
                    line=line_of(["versions", later_i, "valid_from"]),
                )
            )
        elif earlier.valid_until < later.valid_from:
            problems.append(
                Problem(
                    source,
                    f"versions.{later_i}.valid_from",
                    later.valid_from.isoformat(),
                    f"gap after version '{earlier.id}' ({earlier.span()}, line {earlier_line}): "
                    f"no price applies from {earlier.valid_until} until {later.valid_from}; "
                    f"versions must follow each other (valid_from = the previous valid_until)",
                    line=line_of(["versions", later_i, "valid_from"]),
                )
            )
    return problems
