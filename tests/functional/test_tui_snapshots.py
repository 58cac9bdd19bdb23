"""SVG snapshots of every TUI screen on fixed data (pytest-textual-snapshot).

Fixed data: the demo call imported from copies in the test's own folder (so
no absolute path appears), the shipped policy, a committed selection, a
frozen clock for every timestamp, a fixed terminal size.  SQLite only: the
pictures do not depend on the backend.  Update after a deliberate change with
``pytest tests/functional/test_tui_snapshots.py --snapshot-update`` and look
at the SVGs before committing them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ngc_pilot.db
from ngc_pilot.facade import Services
from tui import make_app
from tui.testing import (
    DEMO_FILES,
    demo_services,
    populate,
    populate_metering,
    record_capacity_snapshot,
    record_tenant,
    settle,
)

SIZE = (160, 48)
FROZEN = datetime(2021, 4, 1, 9, 30, tzinfo=UTC)


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return FROZEN if tz is not None else FROZEN.replace(tzinfo=None)


@pytest.fixture
def fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path
) -> Iterator[Services]:
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(sqlite_template, tmp_path / "snap.db")  # at the head revision
    monkeypatch.setattr(ngc_pilot.db, "datetime", _FrozenDatetime)
    files = []
    for source in DEMO_FILES:
        shutil.copy(source, tmp_path / source.name)
        files.append(Path(source.name))
    services = demo_services("sqlite:///snap.db", actor="operator")
    populate(services, commit=True, files=files)
    yield services
    services.engine.dispose()


LEDGER = [
    ("create project ngc-rh-2021-21", "done"),
    ("create group ngc-rh-2021-21-members", "done"),
    ("update compute_quota ngc-rh-2021-21", "done"),
    ("create network ngc-rh-2021-21-net", "done"),
]


@pytest.fixture
def provisioned(fixed: Services) -> Services:
    """The fixed data with tenants in several states, as the provisioner leaves them."""
    record_tenant(
        fixed, "RH-2021-21", "active", steps=LEDGER, environment="var/environments/RH-2021-21"
    )
    record_tenant(
        fixed,
        "RH-2021-11",
        "failed",
        cidr="10.240.1.0/24",
        steps=[("create project ngc-rh-2021-11", "done"), ("create network x", "failed")],
        last_error="create network x failed: HttpException (HTTP 503)",
    )
    record_tenant(fixed, "RH-2021-16", "torn_down", cidr="10.240.2.0/24")
    return fixed


def _keys(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(("1",), id="applications"),
        pytest.param(("2",), id="selection-portfolio"),
        pytest.param(("2", "n"), id="selection-candidates"),
        pytest.param(("2", "v"), id="selection-coverage"),
        pytest.param(("3",), id="tenants"),
        pytest.param(("4",), id="usage"),
        pytest.param(("5",), id="capacity"),
        pytest.param(("6",), id="jobs"),
        pytest.param(("7",), id="audit"),
        pytest.param(("8",), id="reports"),
        pytest.param(("9",), id="requests"),
        pytest.param(("1", "question_mark"), id="help"),
    ],
)
def test_screen_snapshot(fixed, snap_compare, keys):
    assert snap_compare(make_app(fixed), terminal_size=SIZE, run_before=_keys(*keys))


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(("3", "down", "down", "down", "down", "down", "down"), id="tenants-ledger"),
        pytest.param(
            ("3", "down", "down", "down", "down", "down", "down", "t"), id="tenants-teardown"
        ),
        pytest.param(("3", "down", "down", "down", "down"), id="tenants-failed"),
    ],
)
def test_tenants_snapshot(provisioned, snap_compare, keys):
    assert snap_compare(make_app(provisioned), terminal_size=SIZE, run_before=_keys(*keys))


# After May 2021, so the month is rated final and the jobs' times read naturally.
RATED = datetime(2021, 6, 1, 9, 30, tzinfo=UTC)

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


class _RatedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return RATED if tz is not None else RATED.replace(tzinfo=None)


@pytest.fixture
def metered(fixed: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    """The fixed data with a month of usage for three tenants, May 2021 rated by the billing
    service on 1 June 2021, and a scheduler history around that morning."""
    monkeypatch.setattr(ngc_pilot.db, "datetime", _RatedDatetime)
    populate_metering(fixed, now=RATED)
    (tmp_path / "other-prices.yaml").write_text(OTHER_PRICES)
    return fixed


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(("4",), id="usage-invoice"),
        pytest.param(("4", "down", "m", "h"), id="usage-ram-hourly"),
        pytest.param(
            ("4", "w", *"other", "minus", *"prices", "full_stop", *"yaml", "enter"),
            id="usage-what-if",
        ),
        pytest.param(("6", "down", "down"), id="jobs-runs"),
    ],
)
def test_usage_and_jobs_snapshot(metered, snap_compare, keys):
    assert snap_compare(make_app(metered), terminal_size=SIZE, run_before=_keys(*keys))


def test_capacity_measured_snapshot(metered, snap_compare):
    """Placement's capacity from a snapshot, and the metered tenants' quotas and use."""
    record_capacity_snapshot(metered, RATED)
    assert snap_compare(make_app(metered), terminal_size=SIZE, run_before=_keys("5"))
