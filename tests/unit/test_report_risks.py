"""The report's risk rules: expiring soon, little of the quota used, no signed agreement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ngc_pilot.report_data import PilotRow, UsageLine
from ngc_pilot.report_risks import risks
from policies.rating import Month
from policies.tenancy import load_tenant_policy

MAY = Month(2021, 5)
SMALL_CORE_HOURS = Decimal(64 * 744)  # the small size's vCPU quota over May


def pilot(
    pid: str,
    *,
    end: date = date(2021, 8, 31),
    tenant: str | None = "active",
    dpa: str = "signed",
    state: str = "selected",
) -> PilotRow:
    return PilotRow(pid, pid, "I", state, tenant, date(2021, 4, 15), end, (), None, dpa)


def busy(pid: str) -> list[UsageLine]:
    return [
        UsageLine(pid, "vcpu_hours", SMALL_CORE_HOURS / 2, "vCPU-hours", 744),
        UsageLine(pid, "ram_gb_hours", Decimal(256 * 744) / 2, "GB-hours", 744),
    ]


def kinds(found) -> list[tuple[str, str, dict]]:
    return [(r.kind, r.pilot_id, r.values) for r in found]


def test_a_busy_signed_pilot_far_from_its_end_has_no_risk():
    assert risks([pilot("A")], busy("A"), {"A": "small"}, load_tenant_policy(), MAY) == ()


def test_ending_within_30_days_after_the_month_is_a_risk_and_31_days_is_not():
    found = risks(
        [pilot("A", end=date(2021, 6, 30)), pilot("B", end=date(2021, 7, 1))],
        busy("A") + busy("B"),
        {"A": "small", "B": "small"},
        load_tenant_policy(),
        MAY,
    )
    assert kinds(found) == [("expiring", "A", {"date": "2021-06-30"})]


def test_under_ten_percent_of_a_quota_is_a_risk_per_resource():
    usage = [
        UsageLine("A", "vcpu_hours", SMALL_CORE_HOURS * Decimal("0.099"), "vCPU-hours", 744),
        UsageLine("A", "ram_gb_hours", Decimal(256 * 744), "GB-hours", 744),
    ]
    found = risks([pilot("A")], usage, {"A": "small"}, load_tenant_policy(), MAY)
    assert kinds(found) == [("low_use", "A", {"percent": "9.9", "resource": "resource_cores"})]


def test_a_missing_agreement_is_a_risk_and_withdrawn_or_torn_down_pilots_are_quiet():
    found = risks(
        [
            pilot("A", dpa="in_progress"),
            pilot("W", dpa="none", state="withdrawn"),
            pilot("T", tenant="torn_down", end=date(2021, 6, 1)),
        ],
        busy("A"),
        {"A": "small", "T": "small"},
        load_tenant_policy(),
        MAY,
    )
    assert kinds(found) == [("dpa", "A", {"state": "in_progress"})]
