"""The operator's main flow in the TUI, on SQLite and PostgreSQL, checked in the database.

Import the demo call → solve → lock a selected project out → re-solve →
commit with a name and a reason: the decision, the pilots and the audit trail
must be exactly what the CLI would have recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import DataTable, Input, Static

from ngc_pilot import audit, selection
from ngc_pilot.db import session_scope
from ngc_pilot.facade import Services
from tui import make_app
from tui.screens.commit import CommitScreen
from tui.screens.import_file import ImportFileScreen
from tui.screens.selection import SelectionScreen
from tui.testing import DEMO_DATA, DEMO_FILES, demo_services, plain_text, settle, synchronously

pytestmark = pytest.mark.migrated

SIZE = (160, 48)


@pytest.fixture
def services(database) -> Iterator[Services]:
    s = demo_services(database.url)
    yield s
    s.engine.dispose()


async def _import(pilot, paths: str) -> None:
    await pilot.press("i")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ImportFileScreen)
    pilot.app.screen.query_one("#import-paths", Input).value = paths
    await pilot.press("ctrl+s")
    await settle(pilot)


@synchronously
async def test_import_select_lock_out_resolve_commit_records_decision_pilots_and_audit(services):
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#apps-table", DataTable).row_count == 0

        await _import(pilot, "; ".join(str(p) for p in DEMO_FILES))
        assert app.screen.query_one("#apps-table", DataTable).row_count == 39

        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SelectionScreen)
        assert screen.view is not None and screen.view.proposal.result.optimal
        first = list(screen.view.proposal.result.selected)
        # The cursor is on the portfolio's first row; lock that project out.
        out = str(screen.query_one("#sel-portfolio", DataTable).get_row_at(0)[0]).strip()
        assert out in first
        await pilot.press("x")
        assert screen.stale and "re-solve" in plain_text(screen.query_one("#sel-status", Static))

        await pilot.press("c")  # a stale proposal is not committed
        await settle(pilot)
        assert not isinstance(app.screen, CommitScreen)

        await pilot.press("r")
        await settle(pilot)
        second = list(screen.view.proposal.result.selected)
        assert out not in second and not screen.stale
        assert screen.view.options.lock_out == (out,)

        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CommitScreen)
        app.screen.query_one("#commit-by", Input).value = "Steering group"
        app.screen.query_one("#commit-reason", Input).value = "Round 1, without " + out
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, SelectionScreen)
        assert screen.decision is not None and screen.decision.selected == tuple(second)

    with session_scope(services.engine) as session:
        [decision] = selection.decisions(session)
        assert decision.decided_by == "Steering group"
        assert decision.reason == "Round 1, without " + out
        assert decision.lock_out == [out]
        assert decision.selected == second and decision.optimal
        assert set(decision.explanations) == set(second)
        pilots = {p.id: p for p in selection.pilots(session)}
        assert set(pilots) == set(second)
        assert all(p.state == "selected" and p.decision_id == decision.id for p in pilots.values())
        events = audit.events(session)
        committed = [e for e in events if e.action == "selection.committed"]
        assert len(committed) == 1 and committed[0].actor == "tester"
        assert committed[0].details["lock_out"] == [out]
        assert {e.subject for e in events if e.action == "pilot.selected"} == set(second)
        assert sum(e.action == "application.created" for e in events) == 39


@synchronously
async def test_a_refused_import_lists_every_problem_and_writes_nothing(services):
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _import(pilot, str(DEMO_DATA / "broken.yaml"))
        assert isinstance(app.screen, ImportFileScreen)
        shown = plain_text(app.screen.query_one("#import-result", Static))
        assert "nothing was imported" in shown
        from ngc_pilot.intake import validate_files

        _, problems = validate_files([DEMO_DATA / "broken.yaml"], services.policy)
        assert problems and all(p.message in shown for p in problems)
        await pilot.press("escape")
        await settle(pilot)
    with session_scope(services.engine) as session:
        assert selection.applications(session) == []
        assert audit.events(session) == []
