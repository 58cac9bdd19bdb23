"""The Tenants screen against the real local OpenStack (devcloud), driven by keys.

Plan → apply (confirmed) with live per-step progress → active → apply all →
isolation verified with no leak → teardown (confirmed) → torn_down, checked
in the database and with the real ``openstack`` CLI as a second client.  The
pilots are committed with the CLI (a separate process), the TUI runs in this
process on the same database, var dir and clouds.yaml.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import Pilot, openstack, small
from textual.widgets import DataTable, Static

from ngc_pilot.db import session_scope
from ngc_pilot.facade import Services
from ngc_pilot.models import Tenant
from ngc_pilot.settings import build_settings
from tui import make_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.tenants import TenantsScreen
from tui.testing import plain_text, settle, toasts

SIZE = (160, 48)
CLOUD_WORK = 900.0  # seconds settle may wait for a worker that talks to devcloud


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


def projects(clouds: Path) -> set[str]:
    listed = openstack(clouds, "project", "list", "--domain", "ngc-pilots", "-f", "json")
    return {p["Name"] for p in listed}


def tenant_state(services: Services, pilot_id: str) -> str | None:
    with session_scope(services.engine) as session:
        tenant = session.get(Tenant, pilot_id)
        return None if tenant is None else tenant.state


async def highlight(ui, screen: TenantsScreen, pilot_id: str) -> None:
    table = screen.query_one("#ten-table", DataTable)
    table.move_cursor(row=table.get_row_index(pilot_id))
    await settle(ui)


async def confirm(ui, key: str) -> str:
    """Press ``key``, check a confirmation is asked, answer yes; returns what it said."""
    await ui.press(key)
    await settle(ui, timeout=CLOUD_WORK)  # apply computes the plan first
    dialog = ui.app.screen
    assert isinstance(dialog, ConfirmScreen), f"{key} did not ask first"
    said = plain_text(dialog.query_one("#confirm-body", Static))
    await ui.press("y")
    await settle(ui, timeout=CLOUD_WORK)
    return said


def test_plan_apply_verify_teardown_from_the_tenants_screen(
    pilot: Pilot, monkeypatch: pytest.MonkeyPatch
):
    a, b = unique("ITUA"), unique("ITUB")
    pilot.nominate(small(a), small(b))
    settings = build_settings(
        overrides={
            "database": {"url": pilot.db},
            "policy": {"selection_file": str(pilot.policy)},
            "audit": {"actor": "integration"},
            "cloud": {"clouds_file": str(pilot.clouds)},
            "var_dir": str(pilot.var),
        },
        environ={},
    )
    services = Services.from_settings(settings)
    steps: list[tuple[str, int, int]] = []
    handler = TenantsScreen.on_tenants_screen_step_done

    def record(self, message):  # type: ignore[no-untyped-def]
        steps.append((message.pilot_id, message.index, message.total))
        handler(self, message)

    monkeypatch.setattr(TenantsScreen, "on_tenants_screen_step_done", record)
    try:
        asyncio.run(_drive(services, pilot, a, b, steps))
    finally:
        services.engine.dispose()
        for pid in (a, b):  # whatever happened above, nothing is left on devcloud
            pilot.run("teardown", pid, "--yes")


async def _drive(
    services: Services, pilot: Pilot, a: str, b: str, steps: list[tuple[str, int, int]]
) -> None:
    clouds = pilot.clouds
    app = make_app(services)
    async with app.run_test(size=SIZE, notifications=True) as ui:
        await settle(ui)
        await ui.press("3")
        await settle(ui)
        screen = app.screen
        assert isinstance(screen, TenantsScreen)
        table = screen.query_one("#ten-table", DataTable)

        def state(pid: str) -> str:
            return str(table.get_row_at(table.get_row_index(pid))[2])

        assert state(a) == state(b) == "not provisioned"

        # Plan: read from the cloud, nothing written anywhere.
        await highlight(ui, screen, a)
        await ui.press("p")
        await settle(ui, timeout=CLOUD_WORK)
        plan = plain_text(screen.query_one("#ten-plan", Static))
        assert f"{a} (tenant planned)" in plan
        assert "+ create project" in plan and f"ngc-{a.lower()}" in plan
        planned = len(screen.plans[a].changes)
        assert planned >= 12
        assert tenant_state(services, a) is None
        assert f"ngc-{a.lower()}" not in projects(clouds)

        # Apply the highlighted pilot: the plan is shown and confirmed first.
        said = await confirm(ui, "a")
        assert f"{planned} changes" in said and f"ngc-{a.lower()}" in said
        assert not app.screen.is_modal
        assert tenant_state(services, a) == "active"
        assert state(a) == "active"
        # Live progress, step by step: one report per step applied, counting up to
        # the total (which grows if the provisioner re-plans once Neutron adds its
        # defaults; the count restarts at 1 if a provisioner counts per plan).
        mine = [(i, n) for pid, i, n in steps if pid == a]
        assert mine and mine[0] == (1, planned), mine
        assert all(0 < i <= n for i, n in mine), mine
        assert all(j in (i + 1, 1) for (i, _), (j, _) in zip(mine, mine[1:], strict=False)), mine
        assert mine[-1][0] == mine[-1][1], mine  # the last report is the last step
        assert len(mine) >= planned
        assert any(n.first_line == "Applied" and a in n.text for n in toasts(app))
        assert f"ngc-{a.lower()}" in projects(clouds)

        # What the researcher gets: the bundle's place and contents, never its secret.
        await ui.press("e")
        await settle(ui)
        env = plain_text(screen.query_one("#ten-env", Static))
        bundle = pilot.var / "environments" / a
        assert str(bundle) in env and "clouds.yaml" in env and "0o700" in env
        credential = yaml.safe_load((bundle / "clouds.yaml").read_text())
        auth = next(iter(credential["clouds"].values()))["auth"]
        assert auth["application_credential_id"] in env
        assert auth["application_credential_secret"] not in env
        assert auth["application_credential_secret"] not in app.export_screenshot()

        # Apply all: b is created, a converges without a change.
        said = await confirm(ui, "A")
        assert a in said and b in said
        assert tenant_state(services, b) == "active" and state(b) == "active"
        assert tenant_state(services, a) == "active"

        # Isolation: each tenant probes the other with its own credential.
        await ui.press("v")
        await settle(ui, timeout=CLOUD_WORK)
        probes = screen.query_one("#ten-probes", DataTable)
        results = [str(probes.get_row_at(i)[3]) for i in range(probes.row_count)]
        assert results and set(results) == {"isolated"}, results
        assert {str(probes.get_row_at(i)[0]) for i in range(probes.row_count)} == {a, b}
        assert {str(probes.get_row_at(i)[1]) for i in range(probes.row_count)} >= {a, b}
        assert "no leaks" in str(probes.border_title)

        # Teardown, confirmed, one after the other.
        for pid in (a, b):
            await highlight(ui, screen, pid)
            said = await confirm(ui, "t")
            assert f"ngc-{pid.lower()}" in said and "cannot be undone" in said
            assert tenant_state(services, pid) == "torn_down"
            assert state(pid) == "torn_down"
            assert not (pilot.var / "environments" / pid).exists()
        left = projects(clouds)
        assert f"ngc-{a.lower()}" not in left and f"ngc-{b.lower()}" not in left
        assert not [n for n in toasts(app) if n.severity == "error"]
