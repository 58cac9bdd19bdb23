"""A pilot id never becomes a path outside the environments folder; personal data is private."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest

from ngc_pilot.cli.demo_cmd import replay_today
from ngc_pilot.cli.main import run
from policies.selection_policy import default_policy_path

pytestmark = pytest.mark.migrated


@pytest.mark.parametrize(
    "pilot", ["../../../elsewhere/var/environments/X", "..", "/etc", "a/../../b", "X/../../Y"]
)
def test_env_refuses_a_pilot_id_that_leaves_the_environments_folder(cli, tmp_path, pilot):
    outside = tmp_path / "elsewhere" / "var" / "environments" / "X"
    outside.mkdir(parents=True)
    (outside / "clouds.yaml").write_text("clouds: {}\n")
    result = cli("env", pilot)
    assert result.code == 2, (result.out, result.err)
    assert "pilot = " in result.err and "letters, digits" in result.err
    assert "clouds.yaml" not in result.out


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_new_folder_are_private(capsys, tmp_path):
    db = tmp_path / "var" / "ngc-pilot.db"
    assert run(["--db", f"sqlite:///{db}", "intake", "list"]) == 0
    assert mode(db) == 0o600 and mode(db.parent) == 0o700


def test_the_demo_folder_with_pis_names_is_private(tmp_path):
    folder = tmp_path / "demo"
    folder.mkdir(mode=0o755)
    replay_today(folder, default_policy_path(), date(2026, 1, 5))
    assert mode(folder) == 0o700
