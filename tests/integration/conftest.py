"""The integration tier: a real OpenStack on loopback (``devcloud/``), the real
``openstack`` CLI as a second client, and ngc-pilot run as a separate process.

``devcloud up`` is idempotent; the session fixture calls it, so the tier works
from a cold machine (the first run installs and starts OpenStack).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.paths import REPO
from support.records import record

DEVCLOUD = REPO / "devcloud" / "devcloud"
STATE = REPO / ".devcloud"
NGC = Path(sys.executable).parent / "ngc-pilot"


@pytest.fixture(scope="session")
def devcloud() -> Path:
    result = subprocess.run([str(DEVCLOUD), "up"], capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, (
        f"devcloud up failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    clouds = STATE / "clouds.yaml"
    assert clouds.is_file()
    return clouds


def today_policy(tmp: Path) -> Path:
    """The shipped selection policy with the pilot period moved around today, so
    application credentials expire in the future."""
    from policies.selection_policy import default_policy_path

    start = date.today() - timedelta(days=7)
    end = start + timedelta(days=120)
    text = default_policy_path().read_text()
    text = text.replace("start: 2021-04-15", f"start: {start}").replace(
        "end: 2021-08-31", f"end: {end}"
    )
    path = tmp / "policy.yaml"
    path.write_text(text)
    return path


def failure_summary(result: subprocess.CompletedProcess[str]) -> str:
    """What went wrong, first: the failed tenants' step and error, then the tails."""
    lines = []
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for tenant in data.get("tenants", []):
            if tenant.get("state") != "active":
                lines.append(
                    f"{tenant.get('pilot')}: {tenant.get('state')} at "
                    f"{tenant.get('failed_step')}: {tenant.get('error')}"
                )
    return "\n".join([*lines, result.stderr[-3000:], result.stdout[-1500:]])


class Pilot:
    """ngc-pilot in a separate process against devcloud, with its own database and var dir."""

    def __init__(self, tmp: Path, clouds: Path, db_url: str):
        self.tmp = tmp
        self.clouds = clouds
        self.db = db_url
        self.policy = today_policy(tmp)
        self.var = tmp / "var"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NGC_PILOT_", "OS_"))}
        env.update(
            NGC_PILOT_CLOUD__CLOUDS_FILE=str(self.clouds), NGC_PILOT_VAR_DIR=str(self.var), **extra
        )
        return env

    def run(
        self, *args: str, timeout: float = 900, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(NGC),
                "--db",
                self.db,
                "--policy",
                str(self.policy),
                "--actor",
                "integration",
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=self.tmp,
            env=self.env(**extra),
            timeout=timeout,
        )

    def json(self, *args: str, **extra: str) -> Any:
        result = self.run(*args, "--json", **extra)
        assert result.returncode == 0, failure_summary(result)
        return json.loads(result.stdout)

    def nominate(self, *records: dict[str, Any], commit: bool = True) -> list[str]:
        path = self.tmp / f"n{len(list(self.tmp.glob('n*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump({"applications": list(records)}, sort_keys=False))
        assert self.run("intake", "import", str(path)).returncode == 0
        ids = [r["id"] for r in records]
        if commit:
            args = [
                "select",
                "--min",
                str(len(ids)),
                "--max",
                str(len(ids)),
                "--commit",
                "--by",
                "tests",
                "--reason",
                "integration",
            ]
            for i in ids:
                args += ["--lock-in", i]
            result = self.run(*args)
            assert result.returncode == 0, result.stderr
        return ids


def small(pilot_id: str, dpa: str = "signed", **overrides: Any) -> dict[str, Any]:
    return record(
        id=pilot_id,
        name=f"Integration {pilot_id}",
        principal_investigator={
            "name": f"PI {pilot_id}",
            "email": f"{pilot_id.lower()}@example.org",
        },
        institution=f"Institution {pilot_id}",
        resources={"vcpus": 16, "ram_gb": 64, "gpus": 0, "storage_tb": 1},
        eligibility={
            "personalised_medicine": True,
            "societal_interest": True,
            "data_processing_agreement": dpa,
        },
        **overrides,
    )


def openstack(clouds: Path, *args: str, cloud: str = "devcloud", check: bool = True) -> Any:
    """The real python-openstackclient, from devcloud's virtualenv."""
    exe = STATE / "venv" / "bin" / "openstack"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    result = subprocess.run(
        [str(exe), "--os-cloud", cloud, *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check:
        assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr[-2000:]}"
    if "-f" in args and "json" in args and result.returncode == 0:
        return json.loads(result.stdout or "null")
    return result


@pytest.fixture
def pilot(devcloud, tmp_path) -> Pilot:
    return Pilot(tmp_path, devcloud, f"sqlite:///{tmp_path / 'ngc.db'}")
