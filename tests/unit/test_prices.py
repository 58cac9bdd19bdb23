"""The price list file: what is accepted, and how a bad edit is reported (with lines)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from policies.prices import PriceList, load_prices, parse_prices
from policies.problems import InputProblems
from policies.selection_policy import load_policy

PRICES = """\
vcpu_hour: "0.30"
      ram_gb_hour: "0.04"
      storage_tb_month: "150.00"
      gpu_hour: "20.00"
      base_fee_month: "500.00"
"""


def text(*versions: str, discount: str = "") -> str:
    body = "format: 1\ncurrency: DKK\nversions:\n" + "".join(versions)
    return body + (f"discounts:\n  pilot:\n{discount}" if discount else "")


def version(vid: str, start: str, until: str | None = None, prices: str = PRICES) -> str:
    out = f'  - id: "{vid}"\n    valid_from: {start}\n'
    if until:
        out += f"    valid_until: {until}\n"
    return out + "    prices:\n      " + prices


def problems(source: str) -> list:
    with pytest.raises(InputProblems) as caught:
        parse_prices(source, "p.yaml")
    return caught.value.problems


def test_shipped_price_list_is_valid_and_keeps_the_sources_pilot_period() -> None:
    prices = load_prices()
    pilot = prices.discounts.pilot
    assert prices.currency == "DKK"
    assert pilot is not None and pilot.percent == Decimal(100)
    assert (pilot.from_, pilot.until) == (date(2021, 4, 15), date(2021, 9, 1))
    # The same period as the selection policy (whose end is inclusive).
    period = load_policy().pilot_period
    assert pilot.from_ == period.start and pilot.until == period.end + timedelta(days=1)
    assert all(len(v.digest) == 64 for v in prices.versions)
    assert prices.version_at(date(2021, 5, 1)) is not None


def test_overlapping_versions_are_refused_naming_both_versions_dates_and_lines() -> None:
    source = text(version("a", "2021-01-01", "2021-07-01"), version("b", "2021-06-01"))
    (problem,) = problems(source)
    lines = source.splitlines()
    assert problem.field == "versions.1.valid_from"
    assert lines[problem.line - 1].strip() == "valid_from: 2021-06-01"
    message = str(problem)
    for fragment in (
        "'a'",
        "'b'",
        "2021-01-01 until 2021-07-01",
        "2021-06-01 until (open)",
        "line 4",
    ):
        assert fragment in message
    assert lines[3].strip() == '- id: "a"'


def test_an_open_version_before_another_overlaps() -> None:
    (problem,) = problems(text(version("a", "2021-01-01"), version("b", "2022-01-01")))
    assert "overlaps version 'a' (2021-01-01 until (open)" in problem.message


def test_a_gap_between_versions_is_refused() -> None:
    source = text(version("a", "2021-01-01", "2021-06-01"), version("b", "2021-07-01"))
    (problem,) = problems(source)
    assert "no price applies from 2021-06-01 until 2021-07-01" in problem.message
    assert source.splitlines()[problem.line - 1].strip() == "valid_from: 2021-07-01"


def test_versions_are_sorted_whatever_the_file_order() -> None:
    prices = parse_prices(
        text(version("b", "2021-06-01"), version("a", "2021-01-01", "2021-06-01"))
    )
    assert [v.id for v in prices.versions] == ["a", "b"]
    assert prices.version_at(date(2021, 5, 31)).id == "a"
    assert prices.version_at(date(2021, 6, 1)).id == "b"
    assert prices.version_at(date(2020, 12, 31)) is None


def test_every_shape_problem_is_reported_at_once_with_its_line() -> None:
    bad = (
        PRICES.replace('"0.30"', "0.30")
        .replace('"0.04"', '"-1"')
        .replace('"150.00"', '"1.0000001"')
    )
    source = text(version("a", "2021-01-01", prices=bad)) + "colour: blue\n"
    found = {p.field: p for p in problems(source)}
    assert set(found) == {
        "versions.0.prices.vcpu_hour",
        "versions.0.prices.ram_gb_hour",
        "versions.0.prices.storage_tb_month",
        "colour",
    }
    assert "quoted decimal string" in found["versions.0.prices.vcpu_hour"].message
    assert found["versions.0.prices.vcpu_hour"].line == 7
    assert "negative" in found["versions.0.prices.ram_gb_hour"].message
    assert "6 decimal places" in found["versions.0.prices.storage_tb_month"].message
    assert found["colour"].line == 12


def test_duplicate_ids_and_backwards_dates_are_refused() -> None:
    found = problems(
        text(version("a", "2021-01-01", "2021-06-01"), version("a", "2021-06-01", "2021-05-01"))
    )
    assert [p.field for p in found] == ["versions.1.id", "versions.1.valid_until"]
    assert "duplicate version id" in found[0].message and "line 4" in found[0].message


def test_discount_must_end_after_it_starts() -> None:
    (problem,) = problems(
        text(
            version("a", "2021-01-01"),
            discount='    percent: "100"\n    from: 2021-05-01\n    until: 2021-05-01\n',
        )
    )
    assert problem.field == "discounts.pilot.until" and problem.line == 16


def test_digest_covers_what_a_version_charges_not_its_dates_or_spelling() -> None:
    def digest(src: str) -> str:
        prices: PriceList = parse_prices(src)
        return prices.versions[0].digest

    base = digest(text(version("a", "2021-01-01")))
    assert digest(text(version("a", "2021-01-01", "2022-01-01"))) == base
    assert (
        digest(text(version("a", "2021-01-01", prices=PRICES.replace('"0.30"', '"0.3"')))) == base
    )
    assert (
        digest(text(version("a", "2021-01-01", prices=PRICES.replace('"0.30"', '"0.31"')))) != base
    )
    assert digest(text(version("b", "2021-01-01"))) != base
