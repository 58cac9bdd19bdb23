"""The Evaluation & reports screen (key 8): responses per area, open support, a report written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.report_seed import MONTH, seed_month
from textual.widgets import DataTable, Input, MarkdownViewer, Static

from ngc_pilot.facade import Services
from ngc_pilot.settings import build_settings
from tui import make_app, open_services
from tui.screens.prompt import PromptScreen
from tui.screens.report_view import ReportViewScreen
from tui.screens.reports import ReportsScreen
from tui.testing import plain_text as text_of
from tui.testing import settle, synchronously

pytestmark = pytest.mark.migrated

SIZE = (160, 48)


@pytest.fixture
def services(database, tmp_path: Path) -> Iterator[Services]:
    seed_month(database.url, 3).dispose()
    settings = build_settings(
        overrides={
            "database": {"url": database.url},
            "audit": {"actor": "tester"},
            "var_dir": str(tmp_path / "var"),
            "report": {"language": "en"},
        },
        environ={},
    )
    s = open_services(settings)
    yield s
    s.engine.dispose()


def column(table: DataTable, index: int) -> list[str]:
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


@synchronously
async def test_the_screen_shows_responses_per_area_open_support_and_writes_a_report(
    services, tmp_path
):
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        areas = screen.query_one("#rep-areas", DataTable)
        assert column(areas, 1) == ["3", "2", "0", "0", "0"]  # as `evaluation list` counts
        support = screen.query_one("#rep-support", DataTable)
        assert column(support, 1) == ["P-3"] and column(support, 5) == ["Quota question"]
        assert "3 response(s) · 1 open support item(s)" in text_of(
            screen.query_one("#rep-status", Static)
        )
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one("#prompt-input", Input).value = "2021-13"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)  # refused in the prompt, nothing written
        app.screen.query_one("#prompt-input", Input).value = MONTH
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        expected = tmp_path / "var" / "reports" / f"steering-report-{MONTH}-en.pdf"
        assert f"Report of {MONTH}: {expected}" in text_of(screen.query_one("#rep-last", Static))
        assert expected.read_bytes().startswith(b"%PDF")


@synchronously
async def test_open_shows_the_written_report_as_scrollable_markdown_with_the_pdfs_path(
    services, tmp_path
):
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        await pilot.press("o")  # nothing written yet: told so, nothing opened
        await settle(pilot)
        assert app.screen is screen
        assert any("Write a report first" in n.message for n in app._notifications)
        await pilot.press("g")
        await settle(pilot)
        app.screen.query_one("#prompt-input", Input).value = MONTH
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("o")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ReportViewScreen)
        pdf = tmp_path / "var" / "reports" / f"steering-report-{MONTH}-en.pdf"
        assert text_of(viewer.query_one("#report-pdf", Static)).strip() == f"PDF: {pdf}"
        markdown = viewer.query_one("#report-markdown", MarkdownViewer)
        shown = markdown.document.source
        assert shown.startswith(f"# Steering group monthly report: NGC's cloud pilot, {MONTH}")
        assert "### Pending change requests" in shown and "| P-2 | extension |" in shown
        assert markdown.max_scroll_y > 0  # longer than the screen: it scrolls
        await pilot.press("end")
        await settle(pilot)
        assert markdown.scroll_y > 0
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


@synchronously
async def test_a_month_with_no_data_is_one_clear_notice_and_writes_nothing(services, tmp_path):
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        await pilot.press("g")
        await settle(pilot)
        app.screen.query_one("#prompt-input", Input).value = "2030-01"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.last_report is None
        notices = [n for n in app._notifications if "2030-01" in n.title]
        assert len(notices) == 1 and "nothing was changed" in notices[0].title
        assert notices[0].message.splitlines() == [notices[0].message]  # one line
        assert notices[0].message.startswith("month: no data for this month")
        await pilot.press("o")
        await settle(pilot)
        assert app.screen is screen  # nothing to open
    assert not (tmp_path / "var" / "reports").exists() or not any(
        (tmp_path / "var" / "reports").iterdir()
    )
