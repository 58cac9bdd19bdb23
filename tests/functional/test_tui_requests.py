"""The Requests screen on SQLite and PostgreSQL: pending requests listed first, and
approving or rejecting one with a reason asked for and confirmed.

The pilots have no tenant here, so an approved extension only moves the
pilot's end (the cloud side is the service's tests' and devcloud's); what the
screen must do is ask, confirm, decide through the facade and show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from textual.widgets import DataTable, Input, Static

from ngc_pilot import audit
from ngc_pilot.db import session_scope
from ngc_pilot.facade import Services
from ngc_pilot.models import OutboxMessage, Pilot
from ngc_pilot.settings import build_settings
from tui import make_app, open_services
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.screens.requests import RequestsScreen
from tui.testing import plain_text, populate, settle, synchronously

pytestmark = pytest.mark.migrated

SIZE = (160, 48)


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
    s = open_services(settings)
    populate(s, commit=True)
    yield s
    s.engine.dispose()


def _pilots(services: Services) -> list[Pilot]:
    with session_scope(services.engine) as session:
        return list(session.exec(select(Pilot).order_by(col(Pilot.id))).all())


async def _open(pilot, app) -> RequestsScreen:
    await settle(pilot)
    app.switch_mode(RequestsScreen.MODE)  # its key follows the screens before it
    await settle(pilot)
    assert isinstance(app.screen, RequestsScreen)
    return app.screen


async def _decide(pilot, app, key: str, reason: str, answer: str) -> None:
    await pilot.press(key)
    await settle(pilot)
    prompt = app.screen
    assert isinstance(prompt, PromptScreen)
    await pilot.press("enter")  # an empty reason is refused in the prompt
    assert app.screen is prompt
    assert "give a reason" in plain_text(prompt.query_one("#prompt-error", Static))
    prompt.query_one("#prompt-input", Input).value = reason
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press(answer)
    await settle(pilot)


@synchronously
async def test_requests_screen_approves_and_rejects_with_a_reason_after_confirmation(services):
    first, second = _pilots(services)[:2]
    new_end = first.planned_end + timedelta(days=30)
    extend = services.file_request(first.id, "extend", new_end.isoformat(), "more samples came")
    member = services.file_request(second.id, "add_member", "co@example.org", "a new postdoc")
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _open(pilot, app)
        table = screen.query_one("#requests-table", DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == [
            str(extend.id),
            str(member.id),
        ]
        assert "2 pending" in plain_text(screen.query_one("#requests-status", Static))
        assert "more samples came" in plain_text(screen.query_one("#requests-detail", Static))

        await _decide(pilot, app, "a", "the results justify it", "n")  # no: nothing changes
        assert [r.status for r in services.requests()] == ["pending", "pending"]

        await _decide(pilot, app, "a", "the results justify it", "y")
        assert services.requests(status="approved")[0].id == extend.id

        table.move_cursor(row=table.get_row_index(str(member.id)))
        await settle(pilot)
        await _decide(pilot, app, "x", "ask again with the member's institution", "y")
        assert "none pending" in plain_text(screen.query_one("#requests-status", Static))

    by_id = {r.id: r for r in services.requests()}
    assert by_id[extend.id].status == "approved"
    assert by_id[extend.id].reason == "the results justify it"
    assert by_id[member.id].status == "rejected"
    with session_scope(services.engine) as session:
        assert session.get(Pilot, first.id).planned_end == new_end
        assert session.get(Pilot, second.id).planned_end == second.planned_end
        notices = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        assert [m.key for m in notices] == [
            f"request-decided:{extend.id}",
            f"request-decided:{member.id}",
        ]
        decided = audit.events(session, action="change_request")
        assert {e.action for e in decided} >= {
            "change_request.approved",
            "change_request.rejected",
        }
        assert all(e.actor == "tester" for e in decided)
