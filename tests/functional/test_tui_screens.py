"""Every TUI screen on a populated database (SQLite and PostgreSQL), and its actions.

Each test drives the app with keys through ``App.run_test`` and checks what
the screen shows, or what ended up in the database.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, Select, Static, TextArea

from ngc_pilot import audit, selection
from ngc_pilot.db import session_scope
from ngc_pilot.facade import Services
from ngc_pilot.intake import validate_files
from tui import make_app
from tui.screens.applications import ApplicationsScreen
from tui.screens.help import HelpScreen
from tui.screens.nomination_form import NominationFormScreen
from tui.screens.selection import SelectionScreen
from tui.screens.why_not import WhyNotScreen
from tui.testing import demo_services, populate, settle, synchronously, toasts
from tui.testing import plain_text as text_of

pytestmark = pytest.mark.migrated

SIZE = (160, 48)


@pytest.fixture
def services(database) -> Iterator[Services]:
    s = demo_services(database.url)
    yield s
    s.engine.dispose()


@pytest.fixture
def populated(services) -> Services:
    populate(services, commit=True)
    return services


@synchronously
async def test_every_screen_shows_its_data_with_a_populated_database(populated):
    app = make_app(populated)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        seen = {}
        for key in "12345678":
            await pilot.press(key)
            await settle(pilot)
            seen[app.screen.title] = app.screen
        assert list(seen) == [
            "Applications",
            "Selection",
            "Tenants",
            "Usage & billing",
            "Capacity",
            "Jobs",
            "Audit",
            "Evaluation & reports",
        ]
        assert seen["Applications"].query_one("#apps-table", DataTable).row_count == 39
        sel = seen["Selection"]
        assert sel.query_one("#sel-portfolio", DataTable).row_count == 10
        assert "certified optimal" in text_of(sel.query_one("#sel-status", Static))
        assert "Last decision: #1 by Steering group (test)" in text_of(
            sel.query_one("#sel-status", Static)
        )
        tenants = seen["Tenants"].query_one("#ten-table", DataTable)
        assert tenants.row_count == 10  # every pilot; none has a tenant yet
        assert {str(tenants.get_row_at(i)[2]) for i in range(10)} == {
            "not provisioned",
            "waiting for agreement",
        }
        assert "7 not provisioned · 3 waiting for agreement" in text_of(
            seen["Tenants"].query_one("#ten-status", Static)
        )
        # No tenant yet: nothing metered or invoiced, and the screen says what fills it.
        usage = text_of(seen["Usage & billing"].query_one("#use-status", Static))
        assert "No tenants" in usage and "ngc-pilot meter" in usage
        assert seen["Usage & billing"].query_one("#use-table", DataTable).row_count == 0
        jobs = seen["Jobs"]
        from ngc_pilot.settings import build_settings
        from scheduler.registry import default_jobs

        registry = default_jobs(build_settings(environ={}).service)  # the registry's jobs
        assert jobs.query_one("#jobs-table", DataTable).row_count == len(registry) == 9
        assert "`ngc-pilot serve` schedules" in text_of(jobs.query_one("#jobs-status", Static))
        capacity = seen["Capacity"]
        summary = text_of(capacity.query_one("#cap-summary", Static))
        assert "10 active pilots (decision #1)" in summary and "issue" not in summary
        # Nothing measured yet: each part says what fills it.
        assert "No capacity snapshot yet" in text_of(capacity.query_one("#cap-cloud", Static))
        assert "No tenants yet" in text_of(capacity.query_one("#cap-tenants", Static))
        months = text_of(capacity.query_one("#cap-months", Static))
        assert "2021-04 peak" in months and "2021-08 peak" in months
        assert "1648 (80%)" in months  # the demo selection's vCPUs in its busiest month
        gantt = text_of(capacity.query_one("#cap-gantt", Static))
        assert all(pid in gantt for pid in sel.view.proposal.result.selected)
        with session_scope(populated.engine) as session:
            events = len(audit.events(session))
        assert seen["Audit"].query_one("#audit-table", DataTable).row_count == events


@synchronously
async def test_applications_sort_filter_and_detail(populated):
    app = make_app(populated)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ApplicationsScreen)
        table = screen.query_one("#apps-table", DataTable)

        def ids() -> list[str]:
            return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]

        scores = [screen.rows[i].assessed.score.total for i in ids()]
        assert scores == sorted(scores, reverse=True)
        while screen.sort_column != "ready":
            await pilot.press("s")
        ready = [screen.rows[i].assessed.nomination.ready_date for i in ids()]
        assert ready == sorted(ready)
        await pilot.press("S")
        assert [screen.rows[i].assessed.nomination.ready_date for i in ids()] == sorted(
            ready, reverse=True
        )

        await pilot.press("slash", "l", "o", "n", "g", "_", "r", "e", "a", "d", "enter")
        assert 0 < table.row_count < 39
        assert all("long_read" in screen.rows[i].assessed.nomination.data.types for i in ids())
        assert "filter: long_read" in str(table.border_title)
        await pilot.press("slash", "ctrl+a", "backspace", "escape")  # clear the filter
        assert table.row_count == 39

        await pilot.press("o")
        assert table.row_count == 34
        assert all(screen.rows[i].assessed.eligibility.eligible for i in ids())
        await pilot.press("o")

        table.move_cursor(row=table.get_row_index("KU-2021-06"))  # ineligible in the demo
        await pilot.pause()
        facts = text_of(screen.query_one("#apps-facts", Static))
        assert "KU-2021-06" in facts and "not eligible" in facts
        for reason in screen.rows["KU-2021-06"].assessed.eligibility.reasons:
            assert reason in facts
        score = text_of(screen.query_one("#apps-score", Static))
        for criterion in ("maturity", "readiness", "commitment", "data_volume"):
            assert criterion in score


def _fill(form: NominationFormScreen, values: dict[str, object]) -> None:
    for key, value in values.items():
        widget = form.query_one("#f-" + key.replace(".", "-").replace("_", "-"))
        if isinstance(widget, Checkbox):
            widget.value = bool(value)
        elif isinstance(widget, TextArea):
            widget.text = str(value)
        elif isinstance(widget, Select):
            widget.value = value if value is not None else Select.NULL
        elif isinstance(widget, Input):
            widget.value = str(value)


FLAGS = (
    "commits_to_evaluation",
    "eligibility.personalised_medicine",
    "eligibility.societal_interest",
)
BAD = {
    "id": "bad id!",
    "name": "A form-entered project",
    "principal_investigator.name": "Ada Lovelace",
    "principal_investigator.email": "not-an-address",
    "institution": "Rigshospitalet",
    "nominated_by": "Region Hovedstaden",
    "pitch": "word " * 201,
    "data.volume": "lots",
    "data.types": "wgs; dna_soup",
    "data.sources": "hospital",
    "data.subjects": "-3",
    "resources.vcpus": "64",
    "resources.ram_gb": "512",
    "resources.gpus": "0",
    "resources.storage_tb": "20",
    "task_types": "batch_pipeline",
    "access_months": "99",
    "ready_date": "2021-13-01",
}


@synchronously
async def test_the_form_shows_the_same_problems_as_a_file_import_then_saves(
    services, tmp_path: Path
):
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NominationFormScreen)
        _fill(form, BAD)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        summary = text_of(form.query_one("#form-summary", Static))
        assert "nothing was saved" in summary

        # The same record as a CSV row (unticked boxes are "false"): the import's problems.
        csv_file = tmp_path / "same.csv"
        row = {**BAD, "pitch": BAD["pitch"].strip()}
        for flag in FLAGS:
            row[flag] = "false"
        with csv_file.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
        _, problems = validate_files([csv_file], services.policy)
        expected = {(p.field, p.message) for p in problems}
        assert len(expected) >= 10  # every kind of mistake above, plus the missing fields
        for field, message in expected:
            assert f"{field} = " in summary and message in summary, (field, message)
        assert summary.startswith(f"{len(problems)} problems")
        email_error = text_of(form.query_one("#f-principal-investigator-email-error", Static))
        assert "e-mail address" in email_error

        _fill(
            form,
            {
                "id": "FORM-2021-01",
                "principal_investigator.email": "ada@example.org",
                "pitch": "Test the private cloud with form-entered data.",
                "data.volume": "12 TB",
                "data.types": "wgs; rna_seq",
                "data.subjects": "300",
                "access_months": "4",
                "ready_date": "2021-05-01",
                "institution_type": "hospital_department",
                "maturity": "3",
                "eligibility.data_processing_agreement": "signed",
                "commits_to_evaluation": True,
                "eligibility.personalised_medicine": True,
                "eligibility.societal_interest": True,
            },
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ApplicationsScreen)
        assert "FORM-2021-01" in app.screen.rows
    with session_scope(services.engine) as session:
        stored = selection.get_application(session, "FORM-2021-01")
        assert stored.document["data"]["types"] == ["wgs", "rna_seq"]
        [created] = audit.events(session, action="application.created")
        assert created.subject == "FORM-2021-01" and created.actor == "tester"


@synchronously
async def test_editing_a_nomination_stores_a_new_audited_revision(populated):
    app = make_app(populated)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#apps-table", DataTable)
        table.move_cursor(row=table.get_row_index("RH-2021-03"))
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NominationFormScreen)
        assert form.query_one("#f-id", Input).disabled
        assert form.query_one("#f-data-types", Input).value == "wgs; clinical"
        form.query_one("#f-name", Input).value = "Rare disease trio WGS reanalysis, round 2"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ApplicationsScreen)
    with session_scope(populated.engine) as session:
        app_row = selection.get_application(session, "RH-2021-03")
        assert app_row.revision == 2 and app_row.name.endswith("round 2")
        [updated] = audit.events(session, action="application.updated")
        assert updated.details["changed"] == ["name"]


@synchronously
async def test_why_not_and_refusing_to_lock_in_an_ineligible_project(populated):
    app = make_app(populated)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SelectionScreen)
        await pilot.press("n")
        candidates = screen.query_one("#sel-candidates", DataTable)
        selected = set(screen.view.proposal.result.selected)
        outside = next(
            a.id
            for a in sorted(screen.view.proposal.assessed.values(), key=lambda a: -a.score.total)
            if a.eligibility.eligible and a.id not in selected
        )
        candidates.move_cursor(row=candidates.get_row_index(outside))
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WhyNotScreen)
        answer = text_of(app.screen.query_one("#why-answer", Static))
        assert f"{outside} is eligible but not selected" in answer
        assert "lowers the objective by" in answer
        await pilot.press("escape")

        candidates.move_cursor(row=candidates.get_row_index("KU-2021-06"))
        await pilot.press("l")
        await settle(pilot)
        assert "KU-2021-06" not in screen.lock_in
        assert any("ineligible" in note.text for note in toasts(app))
        await pilot.press("w")
        await settle(pilot)
        assert "is not eligible" in text_of(app.screen.query_one("#why-answer", Static))


@synchronously
async def test_help_and_command_palette_list_every_action_of_the_screen(populated):
    app = make_app(populated)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for action in ("Solve", "Lock in", "Lock out", "Unlock", "Why not?", "Commit", "Reload"):
            assert f"Selection: {action}" in titles
        for screen in ("Applications", "Selection", "Tenants", "Capacity", "Audit"):
            assert f"Go to {screen}" in titles
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app.screen.query_one("#help-screen-keys", Static))
        assert "Never select the highlighted project" in keys
        await pilot.press("escape")
        assert isinstance(app.screen, SelectionScreen)


@synchronously
async def test_a_failing_service_is_a_notification_not_a_traceback(services, tmp_path: Path):
    services.error_log = tmp_path / "tui-errors.log"

    def broken(*_args: object) -> None:
        raise RuntimeError("database went away")

    services.applications = broken  # type: ignore[method-assign]
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.is_running
        [note] = toasts(app)
        assert "unexpected error" in note.first_line and "database went away" in note.text
    assert "RuntimeError: database went away" in services.error_log.read_text()


def test_the_tui_words_a_decisions_problem_with_its_form_fields():
    """The service names the decision maker; the Commit form calls it "Decided by"."""
    from ngc_pilot import selection
    from ngc_pilot.errors import InputError
    from policies.problems import Problem
    from tui.errors import describe

    error = InputError(
        [Problem(selection.DECISION, selection.DECIDED_BY, "", "name the person who decides")]
    )
    title, text = describe("Commit", error, None)
    assert title == "Commit: nothing was changed"
    assert text == "Decided by: name the person who decides"
