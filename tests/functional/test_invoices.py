"""Shadow invoices end to end on SQLite and PostgreSQL: SQL aggregation, revisions,
price changes, formats, the PDF (read back with poppler's ``pdftotext``), what-if.

Usage rows are inserted directly (the metering part fills them in production),
so every expected amount below is worked out by hand from known quantities.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, insert, inspect, select, text, update

from ngc_pilot import audit, billing, invoice_revisions, migrate, usage_aggregation
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.models import (
    Application,
    AuditEvent,
    Invoice,
    InvoiceLine,
    InvoicePriceDigest,
    InvoicePriceSpan,
    Pilot,
    SelectionDecision,
    Tenant,
    UsageRecord,
)
from policies.prices import parse_prices

pytestmark = pytest.mark.migrated

V1 = '{vcpu_hour: "0.30", ram_gb_hour: "0.04", storage_tb_month: "150.00", gpu_hour: "20.00", base_fee_month: "500.00"}'
V2 = '{vcpu_hour: "0.40", ram_gb_hour: "0.05", storage_tb_month: "120.00", gpu_hour: "25.00", base_fee_month: "600.00"}'


def prices_text(v1: str = V1, split: str = "2021-05-16") -> str:
    # Version v1 until 15 May, v2 from 16 May: a boundary inside May.
    # The pilot discount starts in June, so May is charged and June is free.
    return f"""format: 1
currency: DKK
versions:
  - id: v1
    valid_from: 2021-01-01
    valid_until: {split}
    prices: {v1}
  - id: v2
    valid_from: {split}
    prices: {V2}
discounts:
  pilot:
    percent: "100"
    from: 2021-06-01
    until: 2021-09-01
"""


# May, by hand (744 h; v1 covers 1-15 May = 360 h, v2 16-31 May = 384 h):
# P-1 (tenant since April): 4.5 vCPU, 16.25 GB RAM, 500 GB volumes, 40 GB disk every hour
#   vcpu  1620 x 0.30 = 486.00      1728 x 0.40 = 691.20
#   ram   5850 x 0.04 = 234.00      6240 x 0.05 = 312.00
#   disk  metered, no price: no line
#   storage 180000/744000 x 150 = 36.29    192000/744000 x 120 = 30.97
#   base fee 15/31 x 500 = 241.94          16/31 x 600 = 309.68
#   list = charged = 2342.08
# P-2 (tenant since 10 May, usage from then; 144 h on v1): 8.333333 vCPU, 1 GPU every hour
#   vcpu  1199.999952 x 0.30 = 360.00      3199.999872 x 0.40 = 1280.00
#   gpu   144 x 20 = 2880.00               384 x 25 = 9600.00
#   base fee 6/31 x 500 = 96.77            16/31 x 600 = 309.68
#   list = charged = 14526.45
# June, P-1 only usage (2 vCPU every hour, 720 h, v2), discounted 100 %:
#   vcpu 1440 x 0.40 = 576.00; base fee 600.00; list 1176.00, charged 0.00
#   P-2: base fee only, 600.00, charged 0.00
P1_MAY = D("2342.08")
P2_MAY = D("14526.45")


def _hours(start: datetime, end: datetime) -> list[datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += timedelta(hours=1)
    return out


def add_usage(engine, pilot: str, start: datetime, end: datetime, **per_hour: str) -> None:
    rows = [
        {
            "pilot_id": pilot,
            "metric": metric,
            "window_start": t,
            "window_end": t + timedelta(hours=1),
            "quantity": D(quantity),
            "source": "test",
            "collected_at": t + timedelta(hours=1),
        }
        for t in _hours(start, end)
        for metric, quantity in per_hour.items()
    ]
    with session_scope(engine) as session:
        session.execute(insert(UsageRecord.__table__), rows)


def at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def add_pilot(session, pilot: str, created: datetime, *, state: str = "active") -> None:
    session.add(
        Application(
            id=f"A-{pilot}",
            name=f"Project {pilot}",
            pi_name=f"PI of {pilot}",
            pi_email=f"{pilot.lower()}@example.org",
            institution="Rigshospitalet",
            institution_type="hospital_department",
            nominated_by="Region Hovedstaden",
            data_volume_bytes=10**12,
            maturity=3,
            ready_date=date(2021, 4, 15),
            commits_to_evaluation=True,
            data_processing_agreement="signed",
            document={},
            source="test",
        )
    )
    session.flush()
    session.add(
        Pilot(
            id=pilot,
            application_id=f"A-{pilot}",
            decision_id=1,
            planned_start=date(2021, 4, 15),
            planned_end=date(2021, 8, 31),
        )
    )
    session.flush()
    session.add(
        Tenant(
            pilot_id=pilot,
            cloud="devcloud",
            size="small",
            project_name=f"ngc-{pilot.lower()}",
            project_id=f"proj-{pilot.lower()}",
            cidr="10.0.0.0/24",
            state=state,
            created_at=created,
            updated_at=created,
        )
    )


@pytest.fixture
def world(database, tmp_path, monkeypatch):
    """Two tenants with May and June 2021 usage, and the test price list in force."""
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        session.add(
            SelectionDecision(
                id=1,
                decided_by="t",
                reason="t",
                policy_digest="t",
                k_min=1,
                k_max=2,
                objective=1.0,
                optimal=True,
            )
        )
        session.flush()
        add_pilot(session, "P-1", at(2021, 4, 20, 9))
        add_pilot(session, "P-2", at(2021, 5, 10, 14))
    add_usage(
        engine,
        "P-1",
        at(2021, 5, 1),
        at(2021, 6, 1),
        vcpu_hours="4.5",
        ram_gb_hours="16.25",
        volume_gb_hours="500",
        disk_gb_hours="40",
    )
    add_usage(engine, "P-2", at(2021, 5, 10), at(2021, 6, 1), vcpu_hours="8.333333", gpu_hours="1")
    add_usage(engine, "P-1", at(2021, 6, 1), at(2021, 7, 1), vcpu_hours="2")
    file = tmp_path / "prices.yaml"
    file.write_text(prices_text())
    monkeypatch.setenv("NGC_PILOT_POLICY__PRICES_FILE", str(file))
    yield engine, parse_prices(file.read_text(), str(file))
    engine.dispose()


def stored(engine, pilot: str, month: str) -> list[Invoice]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(Invoice)
                .where(Invoice.pilot_id == pilot, Invoice.month == month)
                .order_by(Invoice.revision)
            ).scalars()
        )


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


# ------------------------------------------------------------------ rating


def test_invoice_totals_are_exact_and_split_at_the_version_boundary(world) -> None:
    engine, prices = world
    docs = {d.pilot_id: d for d in billing.rate_month(engine, prices, "2021-05", actor="t")}
    assert set(docs) == {"P-1", "P-2"}
    p1, p2 = docs["P-1"], docs["P-2"]
    assert (p1.list_total, p1.discount_total, p1.charged_total) == (P1_MAY, D("0.00"), P1_MAY)
    assert (p2.list_total, p2.charged_total) == (P2_MAY, P2_MAY)
    assert [(x.item, x.price_version, x.list_amount) for x in p1.lines] == [
        ("vcpu_hours", "v1", D("486.00")),
        ("vcpu_hours", "v2", D("691.20")),
        ("ram_gb_hours", "v1", D("234.00")),
        ("ram_gb_hours", "v2", D("312.00")),
        ("storage_tb_months", "v1", D("36.29")),
        ("storage_tb_months", "v2", D("30.97")),
        ("base_fee", "v1", D("241.94")),
        ("base_fee", "v2", D("309.68")),
    ]
    assert [(x.period_from, x.period_until) for x in p1.lines[:2]] == [
        (date(2021, 5, 1), date(2021, 5, 16)),
        (date(2021, 5, 16), date(2021, 6, 1)),
    ]
    assert [x.quantity for x in p2.lines if x.item == "vcpu_hours"] == [
        D("1199.999952"),
        D("3199.999872"),
    ]
    # What was stored reads back identically, with the people on it.
    with session_scope(engine) as session:
        (back,) = billing.invoices(session, "2021-05", ["P-1"])
    assert back.lines == p1.lines and back.charged_total == P1_MAY
    assert (back.revision, back.final, back.pi_name, back.project) == (
        1,
        True,
        "PI of P-1",
        "ngc-p-1",
    )
    with session_scope(engine) as session:
        events = audit.events(session, action="invoice.rated")
    assert sorted(e.subject for e in events) == ["P-1", "P-2"]
    assert events[0].details["month"] == "2021-05" and events[0].details["revision"] == 1


def test_pilot_discount_gives_zero_charged_with_the_full_list_amount(world) -> None:
    engine, prices = world
    docs = {d.pilot_id: d for d in billing.rate_month(engine, prices, "2021-06", actor="t")}
    assert (docs["P-1"].list_total, docs["P-1"].discount_total, docs["P-1"].charged_total) == (
        D("1176.00"),
        D("1176.00"),
        D("0.00"),
    )
    assert [(x.item, x.list_amount) for x in docs["P-2"].lines] == [("base_fee", D("600.00"))]
    assert docs["P-2"].charged_total == D("0.00")


def test_rerating_unchanged_usage_writes_nothing(world) -> None:
    engine, prices = world
    billing.rate_month(engine, prices, "2021-05", actor="t")
    invoices, lines, events = (
        count(engine, Invoice),
        count(engine, InvoiceLine),
        count(engine, AuditEvent),
    )
    again = billing.rate_month(engine, prices, "2021-05", actor="t")
    assert [d.written for d in again] == [False, False]
    assert [d.revision for d in again] == [1, 1]
    assert (count(engine, Invoice), count(engine, InvoiceLine), count(engine, AuditEvent)) == (
        invoices,
        lines,
        events,
    )


def test_changed_usage_in_a_closed_month_adds_revision_2_and_leaves_revision_1(world) -> None:
    engine, prices = world
    billing.rate_month(engine, prices, "2021-05", actor="t")
    (rev1,) = stored(engine, "P-1", "2021-05")
    with session_scope(engine) as session:
        session.execute(
            update(UsageRecord.__table__)
            .where(
                UsageRecord.pilot_id == "P-1",
                UsageRecord.metric == "vcpu_hours",
                UsageRecord.window_start == at(2021, 5, 20, 3),
            )
            .values(quantity=D("10.5"))
        )
    docs = billing.rate_month(engine, prices, "2021-05", actor="ops", reason="late Nova data")
    written = [d for d in docs if d.written]
    assert [(d.pilot_id, d.revision, d.final) for d in written] == [("P-1", 2, True)]
    # +6 vCPU-hours at v2's 0.40
    assert written[0].list_total == P1_MAY + D("2.40")
    first, second = stored(engine, "P-1", "2021-05")
    assert (first.id, first.revision, first.list_total, first.rated_by) == (
        rev1.id,
        1,
        P1_MAY,
        "t",
    )
    assert (second.revision, second.reason, second.rated_by) == (2, "late Nova data", "ops")
    with session_scope(engine) as session:
        old_lines = session.execute(
            select(func.sum(InvoiceLine.list_amount)).where(InvoiceLine.invoice_id == rev1.id)
        ).scalar_one()
        event = audit.events(session, action="invoice.rated")[-1]
    assert D(old_lines) == P1_MAY
    assert (event.subject, event.reason, event.details["revision"]) == ("P-1", "late Nova data", 2)
    # Another change without a reason still says why.
    with session_scope(engine) as session:
        session.execute(
            update(UsageRecord.__table__)
            .where(UsageRecord.pilot_id == "P-2", UsageRecord.window_start == at(2021, 5, 31, 23))
            .values(quantity=D("2"))
        )
    (p2,) = [d for d in billing.rate_month(engine, prices, "2021-05", actor="t") if d.written]
    assert p2.revision == 2 and p2.reason.startswith("usage changed after revision 1")


def test_an_open_month_is_provisional_and_becomes_final_once_it_has_ended(world) -> None:
    engine, prices = world
    during = at(2021, 5, 31, 12)
    docs = billing.rate_month(engine, prices, "2021-05", actor="t", pilot_ids=["P-1"], now=during)
    assert [(d.revision, d.final) for d in docs] == [(1, False)]
    docs = billing.rate_month(engine, prices, "2021-05", actor="t", pilot_ids=["P-1"], now=during)
    assert [(d.revision, d.written) for d in docs] == [(1, False)]
    docs = billing.rate_month(engine, prices, "2021-05", actor="t", pilot_ids=["P-1"])
    assert [(d.revision, d.final, d.reason) for d in docs] == [
        (2, True, "the month has closed: this revision is final")
    ]
    assert docs[0].lines == stored_doc(engine, "P-1", "2021-05").lines


def test_the_daily_rating_job_makes_last_month_final_and_rates_this_month(world) -> None:
    """``rate`` in the service's registry: last month (final) and this month, with the
    configured price list; a second run on a quiet day writes nothing."""
    from ngc_pilot.settings import build_settings

    engine, _ = world
    settings = build_settings(
        overrides={"audit": {"actor": "service"}},
        environ={"NGC_PILOT_POLICY__PRICES_FILE": os.environ["NGC_PILOT_POLICY__PRICES_FILE"]},
    )
    summary = billing.rate_due(engine, settings, now=at(2021, 6, 2, 2))
    assert summary == {"months": ["2021-05", "2021-06"], "invoices": 4, "written": 4}
    may = stored(engine, "P-1", "2021-05")
    assert [(i.revision, i.final, i.rated_by) for i in may] == [(1, True, "service")]
    assert [(i.revision, i.final) for i in stored(engine, "P-1", "2021-06")] == [(1, False)]
    again = billing.rate_due(engine, settings, now=at(2021, 6, 3, 2))
    assert again["written"] == 0


def stored_doc(engine, pilot: str, month: str) -> billing.InvoiceDoc:
    with session_scope(engine) as session:
        (doc,) = billing.invoices(session, month, [pilot])
    return doc


def test_a_torn_down_tenant_pays_the_base_fee_up_to_its_teardown_day(world) -> None:
    engine, prices = world
    with session_scope(engine) as session:
        tenant = session.get(Tenant, "P-2")
        tenant.state, tenant.updated_at = "torn_down", at(2021, 6, 10, 15)
        session.add(tenant)
    docs = {d.pilot_id: d for d in billing.rate_month(engine, prices, "2021-06", actor="t")}
    (fee,) = docs["P-2"].lines
    assert (fee.description.split(", ")[1].split(";")[0], fee.list_amount) == (
        "10 of 30 days",
        D("200.00"),
    )
    assert billing.rate_month(engine, prices, "2021-07", actor="t", pilot_ids=["P-2"]) == []


def test_a_price_change_that_already_applied_is_refused_then_forced_and_audited(world) -> None:
    engine, prices = world
    billing.rate_month(engine, prices, "2021-05", actor="t")
    billing.rate_month(engine, prices, "2021-06", actor="t")
    dearer = parse_prices(prices_text(v1=V1.replace('"0.30"', '"0.35"')), "dearer.yaml")
    before = count(engine, Invoice)
    with pytest.raises(InputError) as refused:
        billing.rate_month(engine, dearer, "2021-06", actor="t")
    message = str(refused.value)
    old, new = prices.version("v1").digest, dearer.version("v1").digest
    for fragment in (
        "'v1'",
        old[:12],
        new[:12],
        "P-1 2021-05 rev 1",
        "P-2 2021-05 rev 1",
        "--force",
    ):
        assert fragment in message
    assert count(engine, Invoice) == before
    docs = billing.rate_month(
        engine, dearer, "2021-06", actor="ops", force=True, reason="NGC price"
    )
    written = sorted((d.pilot_id, d.month, d.revision) for d in docs if d.written)
    # June used only v2: unchanged.  May used v1: re-rated at the new price.
    assert written == [("P-1", "2021-05", 2), ("P-2", "2021-05", 2)]
    assert stored_doc(engine, "P-1", "2021-05").list_total == P1_MAY + D("81.00")  # 1620 x 0.05
    with session_scope(engine) as session:
        (changed,) = audit.events(session, action="prices.changed")
    assert (changed.subject, changed.actor, changed.reason) == ("prices:v1", "ops", "NGC price")
    assert (changed.details["old_digest"], changed.details["new_digest"]) == (old, new)
    assert changed.details["affected"] == ["P-1 2021-05 rev 1", "P-2 2021-05 rev 1"]
    # Accepted now: the same file rates without force.
    assert all(not d.written for d in billing.rate_month(engine, dearer, "2021-05", actor="t"))


def test_moving_a_version_boundary_over_rated_days_also_needs_force(world) -> None:
    engine, prices = world
    billing.rate_month(engine, prices, "2021-05", actor="t")
    moved = parse_prices(prices_text(split="2021-05-10"), "moved.yaml")
    assert moved.version("v1").digest == prices.version("v1").digest
    with pytest.raises(
        InputError,
        match=r"'v1' no longer covers 2021-05-01 until 2021-05-16 \(2021-01-01 until 2021-05-10\)",
    ):
        billing.rate_month(engine, moved, "2021-05", actor="t")


def test_what_if_reprices_the_same_usage_and_writes_nothing(world) -> None:
    engine, prices = world
    dearer = parse_prices(prices_text(v1=V1.replace('"0.30"', '"0.35"')), "dearer.yaml")
    rows = {r.pilot_id: r for r in billing.what_if(engine, "2021-05", prices, dearer)}
    assert rows["P-1"].current.charged_total == P1_MAY
    assert rows["P-1"].other.charged_total == P1_MAY + D("81.00")
    assert rows["P-2"].other.charged_total - rows["P-2"].current.charged_total == D("60.00")
    assert count(engine, Invoice) == 0 and count(engine, AuditEvent) == 0


# --------------------------------------------------------------------- CLI


def test_cli_json_and_csv_carry_the_same_exact_totals(world, cli) -> None:
    result = cli("invoice", "--month", "2021-05", "--json")
    assert result.code == 0, result.err
    data = result.json()
    totals = {i["pilot"]: i["charged_total"] for i in data["invoices"]}
    assert totals == {"P-1": "2342.08", "P-2": "14526.45"}
    p1 = next(i for i in data["invoices"] if i["pilot"] == "P-1")
    assert p1["lines"][0] | {"description": ""} == {
        "position": 1,
        "item": "vcpu_hours",
        "description": "",
        "price_version": "v1",
        "period_from": "2021-05-01",
        "period_until": "2021-05-16",
        "quantity": "1620.000000",
        "unit": "vCPU-hour",
        "unit_price": "0.30",
        "list_amount": "486.00",
        "discount": "0.00",
        "charged": "486.00",
    }
    result = cli("invoice", "--month", "2021-05", "--format", "csv", "--no-rate")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert len(rows) == 8 + 6
    for pilot, total in (("P-1", P1_MAY), ("P-2", P2_MAY)):
        assert sum(D(r["charged"]) for r in rows if r["pilot"] == pilot) == total
    assert {r["revision"] for r in rows} == {"1"}


def test_cli_table_shows_totals_and_the_pilot_discount(world, cli) -> None:
    result = cli("invoice", "--month", "2021-06", "--tenant", "P-1")
    assert result.code == 0, result.err
    assert "1,176.00" in result.out and "Pilot discount 100 % — nothing is charged" in result.out
    assert "P-2" not in result.out


def test_cli_changed_price_exits_2_without_force_and_is_audited_with_it(
    world, cli, tmp_path, monkeypatch
) -> None:
    assert cli("invoice", "--month", "2021-05", "--json").code == 0
    dearer = tmp_path / "dearer.yaml"
    dearer.write_text(prices_text(v1=V1.replace('"0.30"', '"0.35"')))
    monkeypatch.setenv("NGC_PILOT_POLICY__PRICES_FILE", str(dearer))
    result = cli("invoice", "--month", "2021-05")
    assert result.code == 2
    assert "price version 'v1' has different prices now" in result.err
    assert "nothing was changed" in result.err
    result = cli("invoice", "--month", "2021-05", "--force", "--reason", "new list", "--json")
    assert result.code == 0, result.err
    assert {i["revision"] for i in result.json()["invoices"]} == {2}
    result = cli("audit", "--json")
    actions = [e["action"] for e in result.json()]
    assert actions.count("prices.changed") == 1 and actions.count("invoice.rated") == 4


def test_cli_refuses_bad_input_naming_field_value_and_what_is_allowed(world, cli, tmp_path) -> None:
    result = cli("invoice", "--month", "2021-13")
    assert result.code == 2 and "--month = '2021-13'" in result.err and "YYYY-MM" in result.err
    result = cli("invoice", "--month", "2021-05", "--tenant", "P-9")
    assert result.code == 2 and "--tenant = 'P-9'" in result.err and "P-1, P-2" in result.err
    bad = tmp_path / "bad.yaml"
    bad.write_text(prices_text().replace('"0.40"', "0.40"))
    result = cli("invoice", "--month", "2021-05", "--prices", str(bad))
    assert result.code == 2
    assert f"{bad}:10: versions.1.prices.vcpu_hour = 0.4" in result.err
    assert "quoted decimal string" in result.err
    result = cli("invoice", "--month", "2020-12")
    assert result.code == 2 and "no price version covers 2020-12-01 until 2021-01-01" in result.err
    assert count(world[0], Invoice) == 0


def test_cli_what_if_shows_both_price_lists_side_by_side(world, cli, tmp_path) -> None:
    dearer = tmp_path / "dearer.yaml"
    dearer.write_text(prices_text(v1=V1.replace('"0.30"', '"0.35"')))
    result = cli("invoice", "--month", "2021-05", "--prices", str(dearer), "--json")
    assert result.code == 0, result.err
    data = {t["pilot"]: t for t in result.json()["tenants"]}
    assert data["P-1"]["current"]["charged_total"] == "2342.08"
    assert data["P-1"]["other"]["charged_total"] == "2423.08"
    assert data["P-1"]["difference"]["charged_total"] == "81.00"
    result = cli("invoice", "--month", "2021-05", "--prices", str(dearer))
    assert result.code == 0, result.err
    assert (
        "2,342.08" in result.out
        and "2,423.08" in result.out
        and "nothing was written" in result.out
    )
    result = cli("invoice", "--month", "2021-05", "--prices", str(dearer), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    vcpu = next(r for r in rows if r["pilot"] == "P-1" and r["item"] == "vcpu_hours")
    assert (vcpu["current_unit_price"], vcpu["other_unit_price"]) == ("0.30", "0.35")
    assert count(world[0], Invoice) == 0


def test_cli_prices_shows_versions_and_digests(world, cli) -> None:
    result = cli("prices", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert [v["id"] for v in data["versions"]] == ["v1", "v2"]
    assert data["versions"][0]["digest"] == world[1].version("v1").digest


# --------------------------------------------------------------------- PDF


_PDF_LOCK = Path("/tmp/ngc-pilot-poppler-install.lock")


def pdftotext() -> str:
    """poppler's pdftotext; installed from Debian's poppler-utils when missing (as root)."""
    found = shutil.which("pdftotext")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            "pdftotext is missing and cannot be installed here: install Debian's poppler-utils "
            "(scripts/bootstrap does)"
        )
    with open(_PDF_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not shutil.which("pdftotext"):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", "poppler-utils"],
                env=env,
                check=True,
                capture_output=True,
            )
    return shutil.which("pdftotext") or "pdftotext"


def test_pdf_has_one_readable_page_per_tenant_with_its_totals(world, cli, tmp_path) -> None:
    engine, prices = world
    billing.rate_month(engine, prices, "2021-05", actor="t")
    target = tmp_path / "may.pdf"
    result = cli("invoice", "--month", "2021-05", "--format", "pdf", "--output", str(target))
    assert result.code == 0, result.err
    assert target.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        [pdftotext(), "-layout", str(target), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.rstrip("\f").split("\f")
    assert len(pages) == 2
    for page, pilot, total in ((pages[0], "P-1", "2,342.08"), (pages[1], "P-2", "14,526.45")):
        assert pilot in page and f"Charged total {total} DKK".split() == _words(
            page, "Charged total"
        )
        assert "Revision 1, final" in " ".join(page.split())
        assert "PI of " + pilot in page
    # June is discounted: the note says nothing is charged.
    result = cli("invoice", "--month", "2021-06", "--format", "pdf", "-o", str(target))
    assert result.code == 0, result.err
    text = subprocess.run(
        [pdftotext(), str(target), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Pilot discount 100 % — nothing is charged" in text
    assert "1,176.00" in text and "0.00 DKK" in text


def _words(page: str, start: str) -> list[str]:
    line = next(x for x in page.splitlines() if start in x)
    return line.split()


# ---------------------------------------------------------- the daily rollup


def _canonical(sums: dict) -> list:
    return sorted(
        (key, sorted((k, repr(v)) for k, v in usage.items())) for key, usage in sums.items()
    )


def _rated_both_ways(engine, prices, months: list[str]) -> tuple[str, str]:
    """``rate_plan`` from the daily rollup and from the hourly records, as reprs."""
    from policies.rating import Month

    plan = [
        (Month.parse(m), usage_aggregation.segments_for(prices, Month.parse(m))) for m in months
    ]
    with session_scope(engine) as session:
        pilots = ["P-1", "P-2"]
        days = usage_aggregation.rate_plan(session, prices, plan, pilots)
        hours = usage_aggregation.rate_plan(
            session, prices, plan, pilots, aggregator=usage_aggregation.aggregate_hourly
        )
        sums_days = usage_aggregation.aggregate(session, plan)
        sums_hours = usage_aggregation.aggregate_hourly(session, plan)
    assert _canonical(sums_days) == _canonical(sums_hours)  # same Decimals, digit for digit
    assert days == hours
    return repr(days), repr(hours)


def _rollup_matches_records(engine) -> dict:
    """``usage_day`` (records > 0) beside the records summed per UTC day."""
    from ngc_pilot.usage_rollup_models import UsageDay

    with session_scope(engine) as session:
        kept = {
            (p, m, d): q
            for p, m, d, q, n in session.execute(
                select(
                    UsageDay.pilot_id,
                    UsageDay.metric,
                    UsageDay.day,
                    UsageDay.quantity_micro,
                    UsageDay.records,
                )
            )
            if n
        }
        summed: dict = {}
        for p, m, start, q in session.execute(
            select(
                UsageRecord.pilot_id,
                UsageRecord.metric,
                UsageRecord.window_start,
                UsageRecord.quantity,
            )
        ):
            key = (p, m, start.date())
            summed[key] = summed.get(key, 0) + int(D(q).quantize(D("0.000001")) * 1_000_000)
    assert kept == summed
    _month_rollup_matches_records(engine)
    return kept


def _month_rollup_matches_records(engine) -> dict:
    """``usage_month`` (records > 0) beside the records summed per UTC calendar month."""
    from ngc_pilot.usage_rollup_models import UsageMonth

    with session_scope(engine) as session:
        kept = {
            (p, m, month): (q, n)
            for p, m, month, q, n in session.execute(
                select(
                    UsageMonth.pilot_id,
                    UsageMonth.metric,
                    UsageMonth.month,
                    UsageMonth.quantity_micro,
                    UsageMonth.records,
                )
            )
            if n
        }
        summed: dict = {}
        for p, m, start, q in session.execute(
            select(
                UsageRecord.pilot_id,
                UsageRecord.metric,
                UsageRecord.window_start,
                UsageRecord.quantity,
            )
        ):
            key = (p, m, start.date().replace(day=1))
            q_micro, n = summed.get(key, (0, 0))
            summed[key] = (q_micro + int(D(q).quantize(D("0.000001")) * 1_000_000), n + 1)
    assert kept == summed
    return kept


def test_invoices_from_the_daily_rollup_equal_those_from_the_hourly_records(world) -> None:
    """May is split by a price-version boundary, June is in the discount period."""
    engine, prices = world
    days, hours = _rated_both_ways(engine, prices, ["2021-04", "2021-05", "2021-06", "2021-07"])
    assert days == hours
    docs = {d.pilot_id: d for d in billing.rate_month(engine, prices, "2021-05", actor="t")}
    assert (docs["P-1"].charged_total, docs["P-2"].charged_total) == (P1_MAY, P2_MAY)
    june = {d.pilot_id: d for d in billing.rate_month(engine, prices, "2021-06", actor="t")}
    assert (june["P-1"].list_total, june["P-1"].charged_total) == (D("1176.00"), D("0.00"))


def test_re_metering_a_window_replaces_its_quantity_in_the_rollup(world) -> None:
    """Metering's upserts (a recomputed window), updates and deletes keep every day exact."""
    from ngc_pilot.usage_upsert import upsert_records

    engine, prices = world
    _rollup_matches_records(engine)

    def row(pilot: str, metric: str, start: datetime, quantity: str) -> dict:
        return {
            "pilot_id": pilot,
            "metric": metric,
            "window_start": start,
            "window_end": start + timedelta(hours=1),
            "quantity": D(quantity),
            "source": "nova",
            "collected_at": start + timedelta(hours=2),
        }

    for _ in range(2):  # the same window re-metered twice: replaced, not added
        with session_scope(engine) as session:
            upsert_records(
                session,
                [
                    row("P-1", "vcpu_hours", at(2021, 5, 15, 23), "7.000001"),  # was 4.5, v1 side
                    row("P-1", "vcpu_hours", at(2021, 5, 16, 0), "1"),  # was 4.5, v2 side
                    row("P-2", "gpu_hours", at(2021, 7, 2, 5), "0.25"),  # a new window
                ],
            )
    kept = _rollup_matches_records(engine)
    assert kept[("P-1", "vcpu_hours", date(2021, 5, 15))] == (23 * 4_500_000 + 7_000_001)
    _rated_both_ways(engine, prices, ["2021-05", "2021-07"])
    with session_scope(engine) as session:
        session.execute(
            update(UsageRecord)
            .where(UsageRecord.pilot_id == "P-2")
            .values(quantity=UsageRecord.quantity * 3)
        )
        session.execute(  # a whole day and a whole month of P-2's GPU hours go
            UsageRecord.__table__.delete().where(
                UsageRecord.pilot_id == "P-2",
                UsageRecord.metric == "gpu_hours",
                UsageRecord.window_start >= at(2021, 5, 31),
            )
        )
    _rollup_matches_records(engine)
    _rated_both_ways(engine, prices, ["2021-05", "2021-06", "2021-07"])


def test_the_migration_backfills_the_rollup_from_existing_records(world) -> None:
    engine, prices = world
    before = _rollup_matches_records(engine)
    migrate.downgrade(engine, "0010")  # the revision before the rollup
    add_usage(engine, "P-2", at(2021, 8, 1), at(2021, 8, 3), vcpu_hours="0.5")  # no triggers now
    migrate.upgrade(engine)
    after = _rollup_matches_records(engine)
    assert after[("P-2", "vcpu_hours", date(2021, 8, 2))] == 24 * 500_000
    assert {k: v for k, v in after.items() if k[2] < date(2021, 8, 1)} == before
    _rated_both_ways(engine, prices, ["2021-05", "2021-06", "2021-08"])


def test_a_month_without_a_boundary_is_read_from_the_monthly_rollup(world) -> None:
    """June (no boundary inside) comes from ``usage_month``: the same invoices as the hours,
    and a change to the month's records (a re-metered window, a deleted one) shows in it."""
    from ngc_pilot.usage_rollup_models import UsageMonth

    engine, prices = world
    with session_scope(engine) as session:
        june = session.execute(
            select(UsageMonth.quantity_micro).where(
                UsageMonth.pilot_id == "P-1",
                UsageMonth.metric == "vcpu_hours",
                UsageMonth.month == date(2021, 6, 1),
            )
        ).scalar_one()
    assert june == 720 * 2_000_000  # 2 vCPU every hour of June
    _rated_both_ways(engine, prices, ["2021-06", "2021-07"])
    with session_scope(engine) as session:
        session.execute(
            update(UsageRecord)
            .where(UsageRecord.pilot_id == "P-1", UsageRecord.window_start == at(2021, 6, 3, 4))
            .values(quantity=D("5.123456"))
        )
        session.execute(
            UsageRecord.__table__.delete().where(
                UsageRecord.pilot_id == "P-1", UsageRecord.window_start == at(2021, 6, 30, 23)
            )
        )
    kept = _month_rollup_matches_records(engine)
    assert kept[("P-1", "vcpu_hours", date(2021, 6, 1))] == (
        718 * 2_000_000 + 5_123_456,
        719,
    )
    docs = {d.pilot_id: d for d in billing.rate_month(engine, prices, "2021-06", actor="t")}
    vcpu = next(line for line in docs["P-1"].lines if line.item == "vcpu_hours")
    assert vcpu.quantity == D("1441.123456")
    _rated_both_ways(engine, prices, ["2021-06"])


def test_the_migration_backfills_the_monthly_rollup_from_the_days(world) -> None:
    engine, prices = world
    before = _month_rollup_matches_records(engine)
    migrate.downgrade(engine, "0015_change_stamps")  # the revision before the monthly rollup
    add_usage(engine, "P-2", at(2021, 8, 1), at(2021, 8, 3), vcpu_hours="0.5")  # days only
    migrate.upgrade(engine)
    after = _month_rollup_matches_records(engine)
    assert after[("P-2", "vcpu_hours", date(2021, 8, 1))] == (48 * 500_000, 48)
    assert {k: v for k, v in after.items() if k[2] < date(2021, 8, 1)} == before
    _rated_both_ways(engine, prices, ["2021-06", "2021-08"])


# ------------------------------------------------- the price versions invoices used


def _price_summary(engine) -> tuple[set, dict]:
    """What migration 0017's tables hold: (version, digest) pairs and per-version spans."""
    with session_scope(engine) as session:
        digests = {
            tuple(r)
            for r in session.execute(
                select(InvoicePriceDigest.price_version, InvoicePriceDigest.digest)
            )
        }
        spans = {
            v: (first, last)
            for v, first, last in session.execute(
                select(
                    InvoicePriceSpan.price_version,
                    InvoicePriceSpan.period_from,
                    InvoicePriceSpan.period_until,
                )
            )
        }
    return digests, spans


def _price_summary_of_every_revision(engine) -> tuple[set, dict]:
    """The same worked out in Python from every invoice and line, latest or superseded."""
    with session_scope(engine) as session:
        digests = {
            (version, info["digest"])
            for (record,) in session.execute(select(Invoice.prices))
            for version, info in record.get("versions", {}).items()
        }
        spans: dict = {}
        for v, first, last in session.execute(
            select(InvoiceLine.price_version, InvoiceLine.period_from, InvoiceLine.period_until)
        ):
            known = spans.get(v, (first, last))
            spans[v] = (min(known[0], first), max(known[1], last))
    return digests, spans


def _changes_both_ways(engine, price_lists) -> list:
    """``price_changes`` (summary first) equals the search of every latest revision."""
    found = []
    with session_scope(engine) as session:
        for price_list in price_lists:
            for pilots in ((), ("P-1",), ("P-2",)):
                quick = invoice_revisions.price_changes(session, price_list, pilots)
                assert quick == invoice_revisions.search_price_changes(session, price_list, pilots)
                found.append(quick)
    return found


def test_price_changes_from_the_summary_equal_the_search_of_the_invoices(world) -> None:
    """Across superseded revisions, forced changes, a moved boundary, a hand-written
    invoice and an altered line, the summary is what every revision used and
    ``price_changes`` gives what the search over the latest revisions gives."""
    engine, prices = world
    dearer = parse_prices(prices_text(v1=V1.replace('"0.30"', '"0.35"')), "dearer.yaml")
    moved = parse_prices(prices_text(split="2021-05-10"), "moved.yaml")
    later = parse_prices(prices_text(split="2021-05-20"), "later.yaml")
    lists = [prices, dearer, moved, later]

    def check() -> list:
        assert _price_summary(engine) == _price_summary_of_every_revision(engine)
        return _changes_both_ways(engine, lists)

    assert not any(check())  # no invoices yet
    billing.rate_month(engine, prices, "2021-05", actor="t")
    billing.rate_month(engine, prices, "2021-06", actor="t")
    assert [bool(c) for c in check()] == [False] * 3 + [True] * 9
    billing.rate_month(engine, dearer, "2021-06", actor="t", force=True, reason="r")
    assert len(stored(engine, "P-1", "2021-05")) == 2  # revision 1 superseded
    digests, _ = _price_summary(engine)
    assert {v for v, _ in digests} == {"v1", "v2"} and len(digests) == 3  # v1's old digest kept
    check()
    billing.rate_month(engine, moved, "2021-05", actor="t", force=True, reason="r")
    check()
    with session_scope(engine) as session:  # an invoice written around the rating code
        invoice_id = session.execute(
            insert(Invoice.__table__).returning(Invoice.__table__.c.id),
            {
                "pilot_id": "P-2",
                "month": "2021-03",
                "revision": 1,
                "final": True,
                "currency": "DKK",
                "list_total": D("1.00"),
                "discount_total": D("0.00"),
                "charged_total": D("1.00"),
                "prices": {"versions": {"v0": {"digest": "d0"}}},
                "rated_at": at(2021, 4, 1),
                "rated_by": "t",
            },
        ).scalar_one()
        session.execute(
            insert(InvoiceLine.__table__),
            {
                "invoice_id": invoice_id,
                "position": 1,
                "item": "base_fee",
                "description": "x",
                "price_version": "v0",
                "period_from": date(2021, 3, 1),
                "period_until": date(2021, 4, 1),
                "quantity": D("1"),
                "unit": "month",
                "unit_price": D("1.00"),
                "list_amount": D("1.00"),
                "discount": D("0.00"),
                "charged": D("1.00"),
            },
        )
    assert all(check()[i] for i in range(0, 12, 3))  # every list lacks v0: P-2 affected
    with session_scope(engine) as session:  # an altered line widens its version's span
        session.execute(
            update(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .values(period_from=date(2020, 12, 1))
        )
    assert _price_summary(engine)[1]["v0"] == (date(2020, 12, 1), date(2021, 4, 1))
    check()
    with session_scope(engine) as session:  # deleted invoices' versions stay: a superset
        session.execute(InvoiceLine.__table__.delete())
        session.execute(Invoice.__table__.delete())
    assert _price_summary(engine)[0] >= {("v0", "d0")}
    assert not any(_changes_both_ways(engine, lists))
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE invoice_line, invoice"))
        assert _price_summary(engine) == (set(), {})


def test_the_migration_fills_the_price_summary_and_its_downgrade_restores_the_index(
    world,
) -> None:
    engine, prices = world
    dearer = parse_prices(prices_text(v1=V1.replace('"0.30"', '"0.35"')), "dearer.yaml")
    billing.rate_month(engine, prices, "2021-05", actor="t")
    billing.rate_month(engine, dearer, "2021-06", actor="t", force=True, reason="r")
    before = _price_summary(engine)
    assert before == _price_summary_of_every_revision(engine)
    migrate.downgrade(engine, "0016_usage_month")
    inspector = inspect(engine)
    assert "invoice_price_digest" not in inspector.get_table_names()
    assert "ix_invoice_pilot_id" in {i["name"] for i in inspector.get_indexes("invoice")}
    migrate.upgrade(engine)
    assert _price_summary(engine) == before
    assert "ix_invoice_pilot_id" not in {i["name"] for i in inspect(engine).get_indexes("invoice")}
    assert all(not d.written for d in billing.rate_month(engine, dearer, "2021-05", actor="t"))
