"""The candidate price lists work with the existing commands: ``prices FILE`` and ``invoice --prices``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from support.pilots import seed_pilots

from ngc_pilot.db import session_scope
from ngc_pilot.models import Tenant, UsageRecord
from policies.prices import default_prices_path

pytestmark = pytest.mark.migrated

POLICIES = default_prices_path().parent
CANDIDATES = ["prices-pay-per-use.yaml", "prices-flat-fee.yaml"]


@pytest.mark.parametrize("file", CANDIDATES)
def test_prices_accepts_each_candidate_list(cli, file):
    result = cli("prices", str(POLICIES / file), "--json")
    assert result.code == 0, result.err
    assert result.json()["discounts"]["pilot"]["percent"] == "100"


@pytest.fixture
def tenant_with_may_usage(database):
    """P-1 existed all of May 2021 and ran 100 vCPU-hours in it."""
    engine = seed_pilots(database.url, ["P-1"])
    may = datetime(2021, 5, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        session.add(
            Tenant(
                pilot_id="P-1",
                cloud="test",
                size="small",
                project_name="ngc-P-1",
                project_id="p1",
                cidr="10.0.0.0/24",
                state="active",
                created_at=may,
                updated_at=may,
            )
        )
        session.flush()
        session.add(
            UsageRecord(
                pilot_id="P-1",
                metric="vcpu_hours",
                window_start=datetime(2021, 5, 10, 9, tzinfo=UTC),
                window_end=datetime(2021, 5, 10, 10, tzinfo=UTC),
                quantity=Decimal(100),
                source="nova",
            )
        )
    engine.dispose()


@pytest.mark.parametrize(
    ("file", "total"), [("prices-pay-per-use.yaml", "35.00"), ("prices-flat-fee.yaml", "4000.00")]
)
def test_invoice_what_if_prices_the_same_usage_under_a_candidate(
    cli, tenant_with_may_usage, file, total
):
    result = cli("invoice", "--month", "2021-05", "--prices", str(POLICIES / file), "--json")
    assert result.code == 0, result.err
    (tenant,) = result.json()["tenants"]
    assert tenant["current"]["list_total"] == "530.00"  # the shipped list: 30.00 + 500.00 base fee
    assert (tenant["other"]["list_total"], tenant["other"]["charged_total"]) == (total, "0.00")
