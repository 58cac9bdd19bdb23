"""The Usage & billing and Jobs screens on a populated database (SQLite and PostgreSQL).

The data is what metering, the billing service and the scheduler leave
behind: usage records written as metering stores them, May 2021 rated by the
real ``billing.rate_month``, job runs and job-store rows as ``serve`` records
them (``tui.testing.populate_metering``; the cloud is not needed to show
them).  Each test drives the app with keys and checks what the screen shows
against amounts worked out by hand and against the billing service itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlmodel import col, select
from textual.widgets import DataTable, Input, Static, TabbedContent

from ngc_pilot import audit, billing
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.facade import Services
from ngc_pilot.models import JobRun
from ngc_pilot.settings import build_settings
from tui import make_app, open_services
from tui.screens.jobs import JobsScreen
from tui.screens.prompt import PromptScreen
from tui.screens.usage import UsageScreen
from tui.testing import (
    Metered,
    populate,
    populate_metering,
    record_capacity_snapshot,
    record_tenant,
    settle,
    synchronously,
    toasts,
)
from tui.testing import plain_text as text_of
from tui.widgets.usage_plot import UsagePlot

pytestmark = pytest.mark.migrated

SIZE = (160, 48)

# policies/prices.yaml's layout with other prices and no pilot discount.
OTHER_PRICES = """format: 1
currency: DKK
versions:
  - id: "2022"
    valid_from: 2021-01-01
    prices:
      vcpu_hour: "0.25"
      ram_gb_hour: "0.05"
      storage_tb_month: "120.00"
      gpu_hour: "18.00"
      base_fee_month: "400.00"
"""


@pytest.fixture
def services(database, tmp_path: Path) -> Iterator[Services]:
    settings = build_settings(
        overrides={
            "database": {"url": database.url},
            "audit": {"actor": "tester"},
            "var_dir": str(tmp_path / "var"),
        },
        environ={},
    )
    s = open_services(settings)  # with the scheduler's jobs, as the TUI opens it
    yield s
    s.engine.dispose()


@pytest.fixture
def pilots(services) -> Services:
    populate(services, commit=True)
    return services


@pytest.fixture
def metered(pilots) -> tuple[Services, Metered]:
    now = utcnow().replace(second=0, microsecond=0)
    return pilots, populate_metering(pilots, now=now)


def cells(table: DataTable, key: str) -> list[str]:
    return [str(c) for c in table.get_row(key)]


def column(table: DataTable, index: int) -> list[str]:
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def open_screen(pilot, key: str) -> None:
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


# ------------------------------------------------------------------ usage & billing


@synchronously
async def test_usage_screen_shows_the_months_usage_invoice_lines_and_totals(metered):
    services, seeded = metered
    first = seeded.pilots[0]
    with session_scope(services.engine) as session:
        docs = billing.invoices(session, "2021-05")
    assert len(docs) == 3
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_screen(pilot, "4")
        screen = app.screen
        assert isinstance(screen, UsageScreen)
        assert screen.month == "2021-05"  # the latest month with data, not today's
        table = screen.query_one("#use-table", DataTable)
        assert column(table, 0) == list(seeded.pilots)
        # Tenant 0 by hand: 20 weekdays x (12 h x 8 + 12 h x 2) + 6 weekend days x 24 h x 2.
        assert cells(table, first)[2:] == [
            "2,688",  # vCPU-h
            "10,752",  # RAM GB-h
            "312,000",  # volume GB-h
            "240",  # GPU-h
            "6,599.38",  # list: 806.40 + 430.08 + 62.90 + 4800.00 + 500.00
            "0.00",  # charged: the pilot discount takes it all
        ]
        for doc in docs:  # every tenant's row shows the stored invoice
            row = cells(table, doc.pilot_id)
            assert row[6:] == [f"{doc.list_total:,.2f}", f"{doc.charged_total:,.2f}"]
        total = sum((d.list_total for d in docs), D(0))
        status = text_of(screen.query_one("#use-status", Static))
        assert f"3 tenants, 3 invoiced · list {total:,.2f} DKK" in status
        assert f"discount {total:,.2f} = charged 0.00 DKK" in status
        assert "pilot discount 100 % 2021-04-15 → 2021-08-31" in status

        lines = screen.query_one("#use-lines", DataTable)
        assert lines.row_count == 6  # five items and the total
        assert cells(lines, "1")[1:] == [
            "Compute (vCPU)",
            "2021",
            "05-01–05-31",
            "2,688",
            "vCPU-hour",
            "0.30",
            "806.40",
            "−806.40",
            "0.00",
        ]
        assert cells(lines, "3")[4:8] == ["0.419355", "TB-month", "150.00", "62.90"]
        total_row = cells(lines, "total")
        assert total_row[1] == "Total (DKK), discount 100 %"
        assert total_row[7:] == ["6,599.38", "−6,599.38", "0.00"]
        assert f"Shadow invoice {first} 2021-05 · revision 1" in str(lines.border_title)

        # The plot: the highlighted tenant's metric per day, then another metric, then hours.
        plot = screen.query_one(UsagePlot)
        assert plot.display and screen.series is not None
        assert screen.series.pilot_id == first
        daily = screen.series.daily["vcpu_hours"]
        assert daily[2] == 120 and daily[7] == 48 and daily[0] == 0  # Mon 3, Sat 8, 1 May
        assert sum(daily) == 2688
        await pilot.press("m")
        assert screen.metric == "ram_gb_hours"
        assert "RAM per day" in str(screen.query_one("#use-plot-box").border_title)
        await pilot.press("h")
        assert "RAM per hour" in str(screen.query_one("#use-plot-box").border_title)
        assert plot.display

        # Another tenant: its own lines and plot.
        await pilot.press("down")
        await settle(pilot)
        assert screen.series.pilot_id == seeded.pilots[1]
        assert str(lines.border_title).startswith(f"Shadow invoice {seeded.pilots[1]} 2021-05")
        assert not toasts(app)


@synchronously
async def test_month_picker_and_what_is_missing(metered):
    services, seeded = metered
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "4")
        screen = app.screen
        table = screen.query_one("#use-table", DataTable)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.month == "2021-06"
        # The tenants are listed, with nothing metered or rated, and no invented numbers.
        assert column(table, 0) == list(seeded.pilots)
        assert cells(table, seeded.pilots[0])[2:] == ["—", "—", "—", "—", "not rated", ""]
        status = text_of(screen.query_one("#use-status", Static))
        assert "No usage in 2021-06: it was metered in 2021-05" in status
        assert not screen.query_one(UsagePlot).display
        assert f"{seeded.pilots[0]} has no metered usage in 2021-06" in text_of(
            screen.query_one("#use-plot-empty", Static)
        )
        assert "has no shadow invoice for 2021-06" in str(
            screen.query_one("#use-lines", DataTable).border_title
        )

        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot)
        assert screen.month == "2021-04"

        await pilot.press("g")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        prompt.query_one("#prompt-input", Input).value = "2021-13"
        await pilot.press("enter")
        assert app.screen is prompt  # refused, with the reason
        assert "not a month" in text_of(prompt.query_one("#prompt-error", Static))
        prompt.query_one("#prompt-input", Input).value = "2021-05"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.month == "2021-05"
        assert cells(table, seeded.pilots[0])[7] == "0.00"


@synchronously
async def test_rating_the_month_from_the_screen_stores_audited_invoices(pilots):
    seeded = populate_metering(pilots, rate=False)
    app = make_app(pilots)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "4")
        screen = app.screen
        table = screen.query_one("#use-table", DataTable)
        status = text_of(screen.query_one("#use-status", Static))
        assert "No shadow invoice for 2021-05 yet: `ngc-pilot invoice --month 2021-05`" in status
        assert cells(table, seeded.pilots[0])[6] == "not rated"

        await pilot.press("R")
        await settle(pilot)
        await pilot.press("n")  # asked first: no means nothing is written
        await settle(pilot)
        with session_scope(pilots.engine) as session:
            assert billing.invoices(session, "2021-05") == []

        await pilot.press("R")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert cells(table, seeded.pilots[0])[6:] == ["6,599.38", "0.00"]
        assert "3 invoiced" in text_of(screen.query_one("#use-status", Static))
    with session_scope(pilots.engine) as session:
        assert len(billing.invoices(session, "2021-05")) == 3
        rated = audit.events(session, action="invoice.rated")
        assert len(rated) == 3 and {e.actor for e in rated} == {"tester"}


@synchronously
async def test_what_if_prices_the_same_usage_with_another_list_side_by_side(
    metered, tmp_path: Path
):
    services, seeded = metered
    other = tmp_path / "other-prices.yaml"
    other.write_text(OTHER_PRICES)
    broken = tmp_path / "broken-prices.yaml"
    broken.write_text(OTHER_PRICES.replace('"0.25"', "0.25"))  # a float: refused
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_screen(pilot, "4")
        screen = app.screen
        await pilot.press("w")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        prompt.query_one("#prompt-input", Input).value = str(tmp_path / "missing.yaml")
        await pilot.press("enter")
        assert app.screen is prompt
        assert "no such file" in text_of(prompt.query_one("#prompt-error", Static))

        prompt.query_one("#prompt-input", Input).value = str(broken)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        [note] = toasts(app)
        assert "nothing was changed" in note.first_line
        assert "quoted decimal string" in note.text and "Traceback" not in note.text

        await pilot.press("w")
        await settle(pilot)
        app.screen.query_one("#prompt-input", Input).value = str(other)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one("#use-tabs", TabbedContent).active == "use-tab-what-if"
        tenants = screen.query_one("#use-wi-tenants", DataTable)
        expected = billing.what_if(
            services.engine, "2021-05", services.prices(), services.prices(other)
        )
        assert tenants.row_count == len(expected) + 1
        for row in expected:
            assert cells(tenants, row.pilot_id)[1:3] == [
                f"{row.current.list_total:,.2f}",
                f"{row.other.list_total:,.2f}",
            ]
        # Tenant 0 by hand with the other list (no discount): 672.00 + 537.60 + 50.32
        # + 4320.00 + 400.00; now: 6599.38 list, 0.00 charged.
        assert cells(tenants, seeded.pilots[0])[1:] == [
            "6,599.38",
            "5,979.92",
            "-619.46",
            "0.00",
            "5,979.92",
        ]
        total = cells(tenants, "total")
        assert total[1] == f"{sum(r.current.list_total for r in expected):,.2f}"
        assert total[2] == f"{sum(r.other.list_total for r in expected):,.2f}"
        items = screen.query_one("#use-wi-items", DataTable)
        assert cells(items, "vcpu_hours")[1:] == [
            "2,688",
            "0.30→0.25",
            "806.40",
            "672.00",
            "-134.40",
        ]
        assert cells(items, "base_fee")[2:5] == ["500.00→400.00", "500.00", "400.00"]
    with session_scope(services.engine) as session:  # a what-if writes nothing
        assert [d.revision for d in billing.invoices(session, "2021-05")] == [1, 1, 1]


@synchronously
async def test_a_broken_price_list_still_shows_usage_and_stored_invoices(metered, tmp_path: Path):
    services, seeded = metered
    broken = tmp_path / "prices.yaml"
    broken.write_text(OTHER_PRICES.replace("valid_from: 2021-01-01", "valid_from: someday"))
    settings = build_settings(
        overrides={
            "database": {"url": services.engine.url.render_as_string(hide_password=False)},
            "policy": {"prices_file": str(broken)},
        },
        environ={},
    )
    app = make_app(replace(services, settings=settings))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_screen(pilot, "4")
        table = app.screen.query_one("#use-table", DataTable)
        assert cells(table, seeded.pilots[0])[2] == "2,688"
        assert cells(table, seeded.pilots[0])[6] == "6,599.38"  # the stored revision
        status = text_of(app.screen.query_one("#use-status", Static))
        assert "The price list cannot be used" in status and "valid_from" in status
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        [note] = toasts(app)
        assert (
            note.first_line == "Rating 2021-05: nothing was changed" and "valid_from" in note.text
        )


@synchronously
async def test_empty_database_says_what_is_missing_and_which_command_fills_it(services):
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_screen(pilot, "4")
        status = text_of(app.screen.query_one("#use-status", Static))
        assert "Metered: nothing yet · invoices: none" in status
        assert "No tenants" in status and "`ngc-pilot meter`" in status
        assert "DKK" not in status  # no totals at all
        await open_screen(pilot, "6")
        jobs = app.screen.query_one("#jobs-table", DataTable)
        assert column(jobs, 0) == [
            "meter",
            "capacity",
            "reconcile",
            "expiry",
            "data_access",
            "rate",
            "report",
            "mail",
            "statement",
        ]
        assert set(column(jobs, 2)) == {"never"}
        assert set(column(jobs, 5)) == {"not scheduled (serve)"}
        assert "The service has not run yet: `ngc-pilot serve`" in text_of(
            app.screen.query_one("#jobs-status", Static)
        )
        assert not toasts(app)


@synchronously
async def test_tenants_without_usage_point_at_ngc_pilot_meter(pilots):
    record_tenant(pilots, sorted(p.id for p in pilots.pilots())[0], "active")
    app = make_app(pilots)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "4")
        status = text_of(app.screen.query_one("#use-status", Static))
        assert "Nothing is metered yet: `ngc-pilot meter`" in status
        assert app.screen.query_one("#use-table", DataTable).row_count == 1


# ------------------------------------------------------------------------------ jobs


@synchronously
async def test_jobs_screen_shows_each_job_its_runs_failures_and_retries(metered):
    services, seeded = metered
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "6")
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        table = screen.query_one("#jobs-table", DataTable)
        assert column(table, 0) == [
            "meter",
            "capacity",
            "reconcile",
            "expiry",
            "data_access",
            "rate",
            "report",
            "mail",
            "statement",
        ]
        meter = cells(table, "meter")
        assert meter[1] == "every 60 min" and meter[3] == "succeeded" and meter[4] == "4.2 s"
        top = seeded.now.replace(minute=0)
        assert meter[2].startswith(f"{top:%m-%d %H:%M} (")
        assert meter[5].startswith(f"{top + timedelta(hours=1):%m-%d %H:%M} (in ")
        reconcile = cells(table, "reconcile")
        assert reconcile[3] == "failed ×2"
        assert reconcile[7].startswith("TransientError: the cloud did not answer")
        assert cells(table, "expiry")[2:4] == ["never", "never run"]
        status = text_of(screen.query_one("#jobs-status", Static))
        assert "1 failing: reconcile (×2)" in status and "never run: expiry, data_access" in status

        # The highlighted job's recent runs, newest first: the retry and the skip are there.
        runs = screen.query_one("#jobs-runs", DataTable)
        assert column(runs, 2) == ["succeeded"] * 3
        table.move_cursor(row=table.get_row_index("reconcile"))
        await settle(pilot)
        assert column(runs, 2) == ["failed", "skipped", "failed", "succeeded"]
        assert column(runs, 3) == ["2", "0", "1", "1"]
        notes = column(runs, 5)
        assert notes[0].startswith("gave up after try 2 · TransientError")
        assert notes[1] == "skipped: running elsewhere"
        assert notes[2].startswith("retry in 30 s · TransientError")
        assert "2 failed · 1 retries" in str(runs.border_title)
        detail = text_of(screen.query_one("#jobs-detail", Static))
        assert "Report drift of every tenant" in detail
        assert "2 failed attempt(s) since" in detail
        assert "HTTP 503 from keystone" in detail and "failed (try 2)" in detail

        # Refresh (r) picks up a run recorded meanwhile.
        with session_scope(services.engine) as session:
            session.add(
                JobRun(
                    job_id="reconcile",
                    scheduled_for=seeded.now,
                    started_at=seeded.now,
                    finished_at=seeded.now + timedelta(seconds=9),
                    status="succeeded",
                    attempt=1,
                    duration_seconds=9.0,
                    summary={"checked": 3},
                    worker="ops-host:4242",
                )
            )
        await pilot.press("r")
        await settle(pilot)
        assert cells(table, "reconcile")[3] == "succeeded"
        assert column(runs, 2)[0] == "succeeded" and runs.row_count == 5
        assert "none failing" in text_of(screen.query_one("#jobs-status", Static))


@synchronously
async def test_run_now_asks_first_then_runs_records_and_audits(
    services, monkeypatch: pytest.MonkeyPatch
):
    # The scheduler's test hook: two jobs that need no cloud (tests/support/scheduled.py).
    monkeypatch.setenv(
        "NGC_PILOT_TEST_JOBS",
        '[{"id": "tick", "target": "support.scheduled:tick", "seconds": 60},'
        ' {"id": "fail", "target": "support.scheduled:fail", "seconds": 60}]',
    )
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_screen(pilot, "6")
        screen = app.screen
        table = screen.query_one("#jobs-table", DataTable)
        assert column(table, 0) == ["tick", "fail"]
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        with session_scope(services.engine) as session:
            assert session.exec(select(JobRun)).all() == []  # declined: nothing ran

        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert cells(table, "tick")[3] == "succeeded"
        assert column(screen.query_one("#jobs-runs", DataTable), 2) == ["succeeded"]

        table.move_cursor(row=table.get_row_index("fail"))
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert cells(table, "fail")[3] == "failed ×1"
        notes = [n for n in toasts(app) if n.first_line == "Job run failed"]
        assert len(notes) == 1 and "the cloud said no" in notes[0].text
        assert "hunter2" not in notes[0].text  # the runner masks secrets in errors
    with session_scope(services.engine) as session:
        runs = session.exec(select(JobRun).order_by(col(JobRun.id))).all()
        assert [(r.job_id, r.status, r.attempt) for r in runs] == [
            ("tick", "succeeded", 1),
            ("fail", "failed", 1),
        ]
        events = audit.events(session, action="job.run")
        assert [(e.subject, e.actor, e.details["status"]) for e in events] == [
            ("tick", "tester", "succeeded"),
            ("fail", "tester", "failed"),
        ]


@synchronously
async def test_usage_and_jobs_keys_are_in_the_palette_and_help(metered):
    services, _ = metered
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "4")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for action in (
            "Prev month",
            "Next month",
            "Go to month",
            "Metric",
            "What-if",
            "Rate month",
        ):
            assert f"Usage & billing: {action}" in titles
        await open_screen(pilot, "6")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Jobs: Refresh", "Jobs: Run now"} <= titles


@synchronously
async def test_capacity_shows_placement_and_each_tenants_quotas_and_metered_use(metered):
    services, seeded = metered
    record_capacity_snapshot(services, seeded.now)
    usage = {t.pilot_id: t.usage for t in services.usage_month(seeded.month).tenants}
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "5")
        cloud = text_of(app.screen.query_one("#cap-cloud", Static))
        assert f"as recorded at {seeded.now:%Y-%m-%d %H:%M} UTC" in cloud
        vcpu = next(line for line in cloud.splitlines() if line.startswith("vCPU"))
        assert vcpu.split()[1:3] == ["256", "24"]  # (64 - 0) x 4 allocatable, 24 allocated
        assert "48" in vcpu  # promised to the tenants
        disk = next(line for line in cloud.splitlines() if line.startswith("disk GiB"))
        assert "no tenant quota" in disk
        tenants = text_of(app.screen.query_one("#cap-tenants", Static))
        assert f"vCPU-hours ({seeded.month})" in tenants
        for pid in seeded.pilots:
            row = next(line for line in tenants.splitlines() if line.startswith(pid))
            assert row.split()[1:3] == ["active", "small"]
            assert f"{usage[pid]['vcpu_hours']:,.1f}" in row
