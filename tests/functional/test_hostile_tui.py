"""The TUI shows text from files and the database as written, never as markup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.records import record
from textual.widgets import DataTable, Static

from ngc_pilot.facade import Services
from tui import make_app
from tui.screens.applications import ApplicationsScreen
from tui.testing import demo_services, populate, settle, synchronously
from tui.testing import plain_text as text_of

pytestmark = pytest.mark.migrated

NAME = "Trio [/] analysis [bold red]URGENT[/]"
INSTITUTION = "[link=http://x]Rigs[/link]hospitalet"


@pytest.fixture
def services(database, tmp_path: Path) -> Iterator[Services]:
    s = demo_services(database.url)
    path = tmp_path / "markup.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "applications": [
                    record(id="MARK-1", name=NAME, institution=INSTITUTION, pitch=f"Why {NAME}"),
                    record(id="MARK-2"),
                ]
            }
        )
    )
    populate(s, commit=False, files=[path])
    yield s
    s.engine.dispose()


@synchronously
async def test_the_application_detail_shows_markup_like_text_as_written(services):
    app = make_app(services)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ApplicationsScreen)
        table = screen.query_one("#apps-table", DataTable)
        table.move_cursor(row=table.get_row_index("MARK-1"))
        await pilot.pause()
        facts = text_of(screen.query_one("#apps-facts", Static))
        assert NAME in facts and INSTITUTION in facts
        assert f"Why {NAME}" in text_of(screen.query_one("#apps-score", Static))


def test_the_nomination_form_refuses_an_id_that_folds_to_a_stored_one(services):
    from ngc_pilot.errors import InputError

    with pytest.raises(InputError, match="same id as the stored nomination 'MARK-1'"):
        services.save_nomination(record(id="mark-1"), expect_new=True)
