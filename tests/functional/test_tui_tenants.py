"""The Tenants screen without a cloud (SQLite and PostgreSQL).

Tenant rows and step ledgers are written the way the provisioner leaves
them (``tui.testing.record_tenant``); what needs the real OpenStack (plan,
apply, verify, teardown end to end) is in tests/integration/test_tui_tenants_devcloud.py.
Here: what the screen shows, that apply and teardown ask first, and that the
provisioner's refusals and an unreachable cloud become notifications.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from ngc_pilot.db import session_scope
from ngc_pilot.facade import PlanView, Services
from ngc_pilot.models import Tenant
from ngc_pilot.settings import build_settings
from policies.tenancy import load_tenant_policy
from provisioner import environment
from provisioner.backend import Probe
from provisioner.desired import desired_tenant
from provisioner.secrets import Secret
from tui import make_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.tenants import TenantsScreen
from tui.testing import (
    demo_services,
    plain_text,
    populate,
    record_tenant,
    settle,
    synchronously,
    toasts,
)

pytestmark = pytest.mark.migrated

SIZE = (160, 48)
SECRET = "never-show-this-0123456789"
LEDGER = [
    ("create project ngc-rh-2021-21", "done"),
    ("create group ngc-rh-2021-21-members", "done"),
    ("update compute_quota ngc-rh-2021-21", "done"),
    ("create network ngc-rh-2021-21-net", "done"),
]


@pytest.fixture
def services(database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.chdir(tmp_path)  # researcher environments go to ./var/environments
    s = demo_services(database.url)
    populate(s, commit=True)
    yield s
    s.engine.dispose()


def _write_bundle(pilot_id: str) -> Path:
    """A real researcher bundle, as the provisioner writes it (secret included)."""
    policy = load_tenant_policy()
    desired = desired_tenant(
        pilot_id=pilot_id,
        pilot_name="Rare disease trio WGS reanalysis",
        pi_email="pi@example.org",
        size="small",
        cidr="10.240.0.0/24",
        end=date(2021, 8, 31),
        policy=policy,
    )
    bundle = environment.write_bundle(
        Path("var/environments"),
        desired,
        auth_url="http://127.0.0.1:25000/v3",
        region="RegionOne",
        credential_id="cred-rh-2021-21",
        secret=Secret(SECRET),
        project_id="rh2021210000",
        pilot_name="Rare disease trio WGS reanalysis",
        start=date(2021, 4, 15),
        end=date(2021, 8, 31),
        support_contact="support@ngc.example",
    )
    return bundle.path


def _states(table: DataTable) -> dict[str, str]:
    return {
        str(table.get_row_at(i)[0]): str(table.get_row_at(i)[2]) for i in range(table.row_count)
    }


async def _tenants(pilot) -> TenantsScreen:
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TenantsScreen)
    return screen


async def _highlight(pilot, screen: TenantsScreen, pilot_id: str) -> None:
    table = screen.query_one("#ten-table", DataTable)
    table.move_cursor(row=table.get_row_index(pilot_id))
    await settle(pilot)


@synchronously
async def test_shows_every_pilots_tenant_state_the_waiting_pilots_and_the_step_ledger(services):
    path = _write_bundle("RH-2021-21")
    record_tenant(services, "RH-2021-21", "active", steps=LEDGER, environment=str(path))
    record_tenant(
        services,
        "RH-2021-11",
        "failed",
        cidr="10.240.1.0/24",
        steps=[("create project ngc-rh-2021-11", "done"), ("create network x", "failed")],
        last_error="create network x failed: HttpException (HTTP 503)",
    )
    record_tenant(services, "RH-2021-16", "torn_down", cidr="10.240.2.0/24")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _tenants(pilot)
        table = screen.query_one("#ten-table", DataTable)
        states = _states(table)
        assert len(states) == 10  # every committed pilot, with or without a tenant
        assert states["RH-2021-21"] == "active"
        assert states["RH-2021-11"] == "failed"
        assert states["RH-2021-16"] == "torn_down"
        waiting = ("DTU-2021-01", "RH-2021-07", "RM-2021-12")  # agreement not signed
        assert {states[p] for p in waiting} == {"waiting for agreement"}
        assert {s for p, s in states.items() if p not in waiting} - {
            "active",
            "failed",
            "torn_down",
        } == {"not provisioned"}
        status = plain_text(screen.query_one("#ten-status", Static))
        assert "1 active" in status and "1 failed" in status and "3 waiting for agreement" in status
        assert "Waiting for a signed data processing agreement: " + ", ".join(waiting) in status
        failed_note = str(table.get_row_at(table.get_row_index("RH-2021-11"))[8])
        assert "HTTP 503" in failed_note

        await _highlight(pilot, screen, "RH-2021-21")
        steps = screen.query_one("#ten-steps", DataTable)
        assert steps.row_count == len(LEDGER)
        assert [str(steps.get_row_at(i)[3]) for i in range(steps.row_count)] == [
            step
            for step, _ in reversed(LEDGER)  # newest first
        ]
        facts = plain_text(screen.query_one("#ten-facts", Static))
        assert "RH-2021-21" in facts and "active" in facts and "quotas cores" in facts

        await _highlight(pilot, screen, "RH-2021-11")
        steps = screen.query_one("#ten-steps", DataTable)
        assert str(steps.get_row_at(0)[2]) == "failed"
        assert "HTTP 503" in str(steps.get_row_at(0)[4])


@synchronously
async def test_the_environment_tab_shows_where_the_bundle_is_and_never_the_secret(services):
    path = _write_bundle("RH-2021-21")
    assert SECRET in (path / "clouds.yaml").read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    record_tenant(services, "RH-2021-21", "active", steps=LEDGER, environment=str(path))
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _tenants(pilot)
        await _highlight(pilot, screen, "RH-2021-21")
        await pilot.press("e")
        await settle(pilot)
        env = plain_text(screen.query_one("#ten-env", Static))
        assert str(path) in env and "0o700" in env
        for name in ("clouds.yaml", "README.md", "environment.json"):
            assert name in env
        assert "cred-rh-2021-21" in env and "never shown" in env
        assert "10.240.0.0/24" in env and "support@ngc.example" in env
        assert SECRET not in env
        assert SECRET not in app.export_screenshot()
        await _highlight(pilot, screen, "KU-2021-02")
        env = plain_text(screen.query_one("#ten-env", Static))
        assert "No researcher environment yet" in env


@synchronously
async def test_apply_shows_the_plan_and_asks_and_the_agreement_gate_refusal_is_a_notification(
    services,
):
    # The plan needs the cloud; this tier has none, so the plan is given (the
    # integration tier computes it against devcloud).  Apply is the real service.
    asked: list[str] = []

    def plan(pilot_id: str) -> PlanView:
        asked.append(pilot_id)
        changes = ({"action": "create", "resource": "project", "name": "ngc-x", "detail": {}},)
        return PlanView(pilot_id, "planned", changes)

    services.plan = plan  # type: ignore[method-assign]
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _tenants(pilot)
        await _highlight(pilot, screen, "RH-2021-07")  # agreement in progress
        await pilot.press("a")
        await settle(pilot)
        assert asked == ["RH-2021-07"]
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        body = plain_text(dialog.query_one("#confirm-body", Static))
        assert "+ create" in body and "ngc-x" in body and "will refuse" in body
        await pilot.press("n")  # no: nothing happens
        await settle(pilot)
        assert app.screen is screen and not toasts(app)

        await pilot.press("a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        [note] = toasts(app)
        assert note.first_line == "Apply: nothing was changed"
        assert "RH-2021-07: the data processing agreement must be 'signed'" in note.text
        assert "Traceback" not in note.text
        assert screen.busy == {}
        assert _states(screen.query_one("#ten-table", DataTable))["RH-2021-07"] == (
            "waiting for agreement"
        )
    with session_scope(services.engine) as session:
        assert session.get(Tenant, "RH-2021-07") is None


@synchronously
async def test_teardown_asks_first_and_an_unconfigured_cloud_is_a_notification(services):
    record_tenant(services, "RH-2021-21", "active", steps=LEDGER)
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _tenants(pilot)
        await _highlight(pilot, screen, "KU-2021-02")
        await pilot.press("t")  # no tenant: nothing to ask
        await settle(pilot)
        assert app.screen is screen
        assert "no tenant to tear down" in toasts(app)[-1].text
        app.clear_notifications()
        await settle(pilot)

        await _highlight(pilot, screen, "RH-2021-21")
        await pilot.press("t")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.danger
        body = plain_text(dialog.query_one("#confirm-body", Static))
        assert "ngc-rh-2021-21" in body and "cannot be undone" in body
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and not toasts(app)

        await pilot.press("t")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        [note] = toasts(app)
        assert note.first_line == "Teardown of RH-2021-21: nothing was changed"
        assert "cannot load cloud 'devcloud'" in note.text
    with session_scope(services.engine) as session:
        assert session.get(Tenant, "RH-2021-21").state == "active"


@synchronously
async def test_an_unreachable_cloud_is_a_readable_notification(services, tmp_path: Path):
    """The real OpenStack backend against a port nobody answers: CloudError → notification."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  devcloud:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n"
        "      username: admin\n      password: x\n      project_name: admin\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n"
        "    identity_api_version: 3\n    region_name: RegionOne\n"
    )
    record_tenant(services, "RH-2021-21", "active", steps=LEDGER)
    settings = build_settings(
        overrides={
            "database": {"url": services.engine.url.render_as_string(hide_password=False)},
            "cloud": {"clouds_file": str(clouds)},
        },
        environ={},
    )
    unreachable = Services.from_settings(settings)
    try:
        await _verify_fails_readably(unreachable)
    finally:
        unreachable.engine.dispose()


async def _verify_fails_readably(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _tenants(pilot)
        await pilot.press("v")
        await settle(pilot)
        [note] = toasts(app)
        assert note.first_line == "Isolation check failed"
        assert "the cloud did not answer" in note.text and "ConnectFailure" in note.text
        assert "Traceback" not in note.text and "unexpected" not in note.first_line
        assert "check failed" in str(screen.query_one("#ten-probes", DataTable).border_title)
        assert not screen.verifying


@synchronously
async def test_live_progress_moves_the_row_step_by_step_and_clears_when_apply_ends(services):
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _tenants(pilot)
        table = screen.query_one("#ten-table", DataTable)
        screen.busy["KU-2021-02"] = "applying"
        for index in (1, 2, 3):
            # What the provisioner's progress callback posts from its threads.
            screen.post_message(
                TenantsScreen.StepDone("KU-2021-02", f"create thing-{index}", index, 12)
            )
            await pilot.pause()
            row = table.get_row_at(table.get_row_index("KU-2021-02"))
            assert str(row[2]) == f"⏳ applying {index}/12"
            assert f"{index}/12 create thing-{index}" in str(row[8])
        assert "applying KU-2021-02 (3/12)" in plain_text(screen.query_one("#ten-status", Static))
        screen.post_message(TenantsScreen.Applied(("KU-2021-02",), None))  # failed as a whole
        await settle(pilot)
        assert screen.busy == {} and screen.progress == {}
        row = table.get_row_at(table.get_row_index("KU-2021-02"))
        assert str(row[2]) == "not provisioned"


@synchronously
async def test_isolation_results_list_every_probe_with_leaks_first_and_in_red(services):
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _tenants(pilot)
        probes = [
            Probe("RH-2021-21", "RH-2021-11", "network", False, "404 not found"),
            Probe("RH-2021-21", "(cloud)", "create project", False, "403 forbidden"),
            Probe("RH-2021-11", "RH-2021-21", "servers", True, "1 item(s) listed"),
        ]
        screen.verifying = True
        screen.post_message(TenantsScreen.Verified(probes))
        await settle(pilot)
        table = screen.query_one("#ten-probes", DataTable)
        assert table.row_count == 3
        first = table.get_row_at(0)
        assert (str(first[0]), str(first[1]), str(first[3])) == (
            "RH-2021-11",
            "RH-2021-21",
            "LEAK",
        )
        assert first[3].style == "bold white on red"
        assert {str(table.get_row_at(i)[3]) for i in (1, 2)} == {"isolated"}
        assert "3 probes, 1 LEAK(S)" in str(table.border_title)
        [note] = toasts(app)
        assert note.severity == "error" and "RH-2021-11 → RH-2021-21: servers" in note.text


@synchronously
async def test_help_and_palette_list_the_tenant_actions(services):
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _tenants(pilot)
        titles = {c.title for c in app.get_system_commands(screen)}
        for action in ("Plan", "Apply", "Apply all", "Teardown", "Verify", "Steps", "Environment"):
            assert f"Tenants: {action}" in titles
        await pilot.press("question_mark")
        await settle(pilot)
        keys = plain_text(app.screen.query_one("#help-screen-keys", Static))
        assert "Probe every tenant's isolation" in keys and "Remove the highlighted tenant" in keys
        notes = plain_text(app.screen.query_one("#help-screen-notes", Static))
        assert "secret is never shown" in notes
