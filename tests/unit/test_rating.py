"""Rating usage into invoice lines: exact Decimal money, segments, discount, rounding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from policies.prices import PriceList, parse_prices
from policies.rating import Month, NoPriceError, days_present, rate, segments


def price_list(discount: str = "", *, split: str | None = "2021-05-16") -> PriceList:
    first_until = f"    valid_until: {split}\n" if split else ""
    second = (
        f"""  - id: v2
    valid_from: {split}
    prices: {{vcpu_hour: "0.40", ram_gb_hour: "0.05", storage_tb_month: "120.00", gpu_hour: "25.00", base_fee_month: "600.00"}}
"""
        if split
        else ""
    )
    return parse_prices(
        f"""format: 1
currency: DKK
versions:
  - id: v1
    valid_from: 2021-01-01
{first_until}    prices: {{vcpu_hour: "0.30", ram_gb_hour: "0.04", storage_tb_month: "150.00", gpu_hour: "20.00", base_fee_month: "500.00"}}
{second}"""
        + (f"discounts:\n  pilot: {discount}\n" if discount else "")
    )


MAY = Month.parse("2021-05")


def test_month_parsing_and_its_hours() -> None:
    assert (MAY.start, MAY.until, MAY.days, MAY.hours) == (
        date(2021, 5, 1),
        date(2021, 6, 1),
        31,
        744,
    )
    assert Month.parse("2021-02").hours == 672
    assert Month.parse("2024-02").hours == 696
    assert Month.parse("2021-12").next() == Month(2022, 1)
    for bad in ("2021-13", "2021-5", "May 2021", "2021-00", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(bad)


def test_a_version_boundary_inside_the_month_cuts_it_in_two() -> None:
    segs = segments(price_list(), MAY)
    assert [(s.period_from, s.period_until, s.version.id) for s in segs] == [
        (date(2021, 5, 1), date(2021, 5, 16), "v1"),
        (date(2021, 5, 16), date(2021, 6, 1), "v2"),
    ]


def test_each_item_gets_one_line_per_version_with_that_versions_price() -> None:
    usage = {
        ("vcpu_hours", 0): D("1620"),
        ("vcpu_hours", 1): D("1728"),
        ("volume_gb_hours", 0): D("180000"),
        ("volume_gb_hours", 1): D("192000"),
    }
    rated = rate(price_list(), MAY, usage, {0: 15, 1: 16})
    got = [
        (x.item, x.price_version, str(x.quantity), str(x.unit_price), str(x.list_amount))
        for x in rated.lines
    ]
    assert got == [
        ("vcpu_hours", "v1", "1620.000000", "0.30", "486.00"),
        ("vcpu_hours", "v2", "1728.000000", "0.40", "691.20"),
        # 180000 GB-h / 1000 / 744 h = 0.2419354838... TB-months x 150 = 36.2903...
        ("storage_tb_months", "v1", "0.241935", "150.00", "36.29"),
        # 192000 / 744000 x 120 = 30.9677...
        ("storage_tb_months", "v2", "0.258065", "120.00", "30.97"),
        # 15/31 x 500 = 241.935...; 16/31 x 600 = 309.677...
        ("base_fee", "v1", "0.483871", "500.00", "241.94"),
        ("base_fee", "v2", "0.516129", "600.00", "309.68"),
    ]
    assert rated.list_total == D("1796.08")  # the sum of the six rounded lines
    assert rated.charged_total == rated.list_total and rated.discount_total == 0
    assert set(rated.versions) == {"v1", "v2"}
    assert [x.position for x in rated.lines] == [1, 2, 3, 4, 5, 6]


def test_amounts_come_from_the_unrounded_quantity_and_are_exact() -> None:
    # 1234.567891 vCPU-h x 0.30 = 370.3703673 -> 370.37; no float anywhere.
    rated = rate(price_list(split=None), MAY, {("vcpu_hours", 0): D("1234.567891")}, {})
    (line,) = rated.lines
    assert line.list_amount == D("370.37") and isinstance(line.list_amount, D)
    # One TB held for the whole month is exactly one TB-month.
    rated = rate(price_list(split=None), MAY, {("volume_gb_hours", 0): D("744000")}, {})
    assert (rated.lines[0].quantity, rated.lines[0].list_amount) == (D("1.000000"), D("150.00"))


def test_pilot_discount_charges_nothing_and_keeps_the_full_list_amount() -> None:
    prices = price_list('{percent: "100", from: 2021-04-15, until: 2021-09-01}', split=None)
    rated = rate(prices, MAY, {("gpu_hours", 0): D("100"), ("ram_gb_hours", 0): D("10.5")}, {0: 31})
    assert rated.list_total == D("2500.42")  # 2000.00 + 0.42 + 500.00
    assert rated.discount_total == rated.list_total
    assert rated.charged_total == D("0.00")
    assert all(x.charged == 0 and x.discount == x.list_amount for x in rated.lines)
    assert all("pilot discount 100 %" in x.description for x in rated.lines)


def test_a_discount_starting_mid_month_splits_lines_into_charged_and_free() -> None:
    prices = price_list('{percent: "100", from: 2021-05-11, until: 2021-09-01}', split=None)
    segs = segments(prices, MAY)
    assert [(s.period_from.day, s.discount_percent) for s in segs] == [(1, 0), (11, 100)]
    rated = rate(prices, MAY, {("vcpu_hours", 0): D("10"), ("vcpu_hours", 1): D("10")}, {})
    assert [(x.charged, x.discount) for x in rated.lines] == [
        (D("3.00"), D("0.00")),
        (D("0.00"), D("3.00")),
    ]


def test_rounding_is_half_up_per_line_and_totals_add_the_rounded_lines() -> None:
    prices = parse_prices(
        """format: 1
currency: DKK
versions:
  - id: r
    valid_from: 2021-01-01
    prices: {vcpu_hour: "0.20", ram_gb_hour: "0.20", storage_tb_month: "1", gpu_hour: "0.20", base_fee_month: "0"}
discounts:
  pilot: {percent: "50", from: 2021-01-01, until: 2022-01-01}
"""
    )
    # Each line: 0.125 x 0.20 = 0.025 -> 0.03 (half-up; half-even would give 0.02).
    usage = {(m, 0): D("0.125") for m in ("vcpu_hours", "ram_gb_hours", "gpu_hours")}
    rated = rate(prices, MAY, usage, {})
    assert [x.list_amount for x in rated.lines] == [D("0.03")] * 3
    # 50 % of 0.03 = 0.015 -> 0.02; charged = list - discount = 0.01.
    assert [(x.discount, x.charged) for x in rated.lines] == [(D("0.02"), D("0.01"))] * 3
    # Totals are sums of rounded lines (0.09), not the rounded exact sum (0.075 -> 0.08).
    assert (rated.list_total, rated.discount_total, rated.charged_total) == (
        D("0.09"),
        D("0.06"),
        D("0.03"),
    )


def test_unpriced_disk_usage_and_absent_items_make_no_lines() -> None:
    rated = rate(price_list(split=None), MAY, {("disk_gb_hours", 0): D("5000")}, {0: 0})
    assert rated.lines == ()
    assert rated.list_total == D("0.00")


def test_a_month_before_the_first_version_has_no_price() -> None:
    with pytest.raises(NoPriceError, match="no price version covers 2020-12-01 until 2021-01-01"):
        segments(price_list(), Month.parse("2020-12"))


def test_days_present_counts_calendar_days_inside_the_period() -> None:
    may1, jun1 = date(2021, 5, 1), date(2021, 6, 1)
    assert days_present(date(2021, 4, 1), None, may1, jun1) == 31
    assert days_present(date(2021, 5, 10), None, may1, jun1) == 22
    assert days_present(date(2021, 5, 10), date(2021, 5, 21), may1, jun1) == 11
    assert days_present(date(2021, 6, 2), None, may1, jun1) == 0
    assert days_present(None, None, may1, jun1) == 0


def test_one_month_rater_for_many_tenants_gives_what_rate_gives_each_alone() -> None:
    """Rating a month's tenants with one MonthRater (per-segment parts and base fees
    worked out once) gives every tenant exactly the lines ``rate`` gives it alone."""
    from policies.rating import MonthRater

    prices = price_list('{percent: "25", from: 2021-05-10, until: 2021-06-01}')
    segs = segments(prices, MAY)
    tenants = [
        ({("vcpu_hours", 0): D("100.000001"), ("volume_gb_hours", 2): D("5000")}, {0: 9, 1: 6, 2: 16}),
        ({("gpu_hours", 1): D("3"), ("ram_gb_hours", 2): D("0.5")}, {0: 9, 1: 6, 2: 16}),
        ({}, {1: 2, 2: 16}),  # present part of the month: other base-fee days
        ({("vcpu_hours", 2): D("7")}, {}),  # usage without a tenant: no base fee
    ]  # fmt: skip
    rater = MonthRater(prices, MAY, segs)
    for usage, days in tenants * 2:  # twice: the second time from the rater's cache
        assert rater.rate(usage, days) == rate(prices, MAY, usage, days)
    assert len(segs) == 3
