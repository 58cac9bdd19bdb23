"""A short launch: the first screen is up before the service layer is open.

``make_app(settings)`` shows the first screen at once and opens the database
(SQLAlchemy, the ORM, migrations, the policy: most of the start-up time) in a
worker; screens wait for it in their own workers.  This only works while
importing ``tui`` imports none of that, which the first test guards.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from textual.widgets import DataTable

from ngc_pilot.settings import build_settings
from tui import make_app
from tui.screens.applications import ApplicationsScreen
from tui.testing import demo_services, populate, settle, synchronously, toasts

pytestmark = pytest.mark.migrated

SIZE = (160, 48)
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "pydantic", "highspy", "numpy", "openstack")


def test_importing_the_tui_imports_no_database_orm_solver_or_cloud_sdk():
    code = (
        "import sys, tui\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('ngc_pilot')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "[]"], done.stdout


def test_the_cli_imports_no_orm_solver_or_cloud_sdk_before_a_command_runs():
    """``ngc-pilot tui`` pays for whatever the CLI imports at start-up; service
    modules are loaded on first use (``ngc_pilot.lazy``)."""
    heavy = ("sqlalchemy", "sqlmodel", "alembic", "highspy", "numpy", "openstack", "textual")
    code = (
        "import sys, ngc_pilot.cli.main\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]"], done.stdout


@pytest.fixture
def url(database) -> Iterator[str]:
    services = demo_services(database.url)
    populate(services, commit=True)
    services.engine.dispose()
    yield database.url


@synchronously
async def test_from_settings_the_screen_comes_first_and_the_data_follows(url):
    settings = build_settings(overrides={"database": {"url": url}}, environ={})
    app = make_app(settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ApplicationsScreen)
        await settle(pilot)
        assert app.screen.query_one("#apps-table", DataTable).row_count == 39
        assert "opening" not in app.sub_title
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.query_one("#ten-table", DataTable).row_count == 10
        assert not toasts(app)
    app.services.engine.dispose()


@synchronously
async def test_a_database_that_cannot_be_opened_is_one_notification():
    url = "postgresql+psycopg://ops:s3cret@127.0.0.1:9/ngc"  # nothing listens on port 9
    app = make_app(build_settings(overrides={"database": {"url": url}}, environ={}))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert "s3cret" not in app.sub_title and "ops:***@127.0.0.1:9" in app.sub_title
        await settle(pilot)
        for key in "37":  # screens that load find no services and stay quiet
            await pilot.press(key)
            await settle(pilot)
        assert app.is_running
        [note] = toasts(app)
        assert note.first_line.startswith("Opening the database")
        assert "OperationalError" in note.text and "127.0.0.1" in note.text
        assert "s3cret" not in note.text
        assert "Traceback" not in note.text
