"""The candidate price lists of the payment-model test load and rate like the shipped one."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from policies.prices import default_prices_path, load_prices
from policies.rating import Month, rate

POLICIES = default_prices_path().parent
# One month's usage of one project: 100 vCPU-hours, 400 GB-hours of RAM,
# one TB held all May (744,000 GB-hours = 1 TB-month), present all 31 days.
USAGE = {
    ("vcpu_hours", 0): D("100"),
    ("ram_gb_hours", 0): D("400"),
    ("volume_gb_hours", 0): D("744000"),
}
PRESENT = {0: 31}


def list_amounts(file: str, month: str) -> tuple[dict[str, D], D, D]:
    prices = load_prices(POLICIES / file)
    rated = rate(prices, Month.parse(month), USAGE, PRESENT)
    return (
        {line.item: line.list_amount for line in rated.lines},
        rated.list_total,
        rated.charged_total,
    )


def test_at_least_two_candidates_are_shipped_beside_the_price_list() -> None:
    assert {"prices-pay-per-use.yaml", "prices-flat-fee.yaml"} <= {
        p.name for p in POLICIES.glob("prices-*.yaml")
    }


@pytest.mark.parametrize(
    ("file", "amounts", "total"),
    [
        (
            "prices.yaml",
            {
                "vcpu_hours": "30.00",
                "ram_gb_hours": "16.00",
                "storage_tb_months": "150.00",
                "base_fee": "500.00",
            },
            "696.00",
        ),
        (
            "prices-pay-per-use.yaml",
            {
                "vcpu_hours": "35.00",
                "ram_gb_hours": "20.00",
                "storage_tb_months": "175.00",
                "base_fee": "0.00",
            },
            "230.00",
        ),
        (
            "prices-flat-fee.yaml",
            {
                "vcpu_hours": "0.00",
                "ram_gb_hours": "0.00",
                "storage_tb_months": "0.00",
                "base_fee": "4000.00",
            },
            "4000.00",
        ),
    ],
)
def test_each_price_list_rates_the_same_usage_to_its_own_amounts(file, amounts, total) -> None:
    got, list_total, charged = list_amounts(file, "2021-10")  # after the pilot: charged in full
    assert got == {k: D(v) for k, v in amounts.items()}
    assert list_total == charged == D(total)


@pytest.mark.parametrize("file", ["prices.yaml", "prices-pay-per-use.yaml", "prices-flat-fee.yaml"])
def test_every_candidate_charges_the_pilots_nothing_during_the_pilot(file) -> None:
    _, list_total, charged = list_amounts(file, "2021-05")
    assert list_total > 0 and charged == D("0.00")
