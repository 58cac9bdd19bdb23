"""A freshly started Neutron serves concurrent admin creates (none refused by policy).

Regression (issue 14, 2026-12-06): ``make demo`` failed 2 of 10 tenants, and a
provisioning test once, with HTTP 403 ``rule:create_security_group is
disallowed by policy`` on the ops-access group.  Neutron builds its policy
enforcer on the first request and publishes it before registering its rules;
requests checked meanwhile are refused, even an admin's.  Any ``devcloud up``
that restarted Neutron (each worktree's did) left it that way for the next
burst of parallel provisioning.  Measured before the fix: 28 of 32 creates
refused over 4 fresh starts.

The shared devcloud is in use, so this never restarts it: it starts a second
Neutron API process from the same config (same database) on a free port,
sends 8 creates at once the moment it answers, stops it, and deletes what it
made through devcloud's own Neutron.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import openstack
import requests
from openstack.config import loader
from support.paths import REPO

HOME = REPO / ".devcloud"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_fresh_neutron_refuses_no_concurrent_admin_create(devcloud, tmp_path):
    config = loader.OpenStackConfig(config_files=[str(devcloud)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud="devcloud"))
    token = conn.session.get_token()
    port = _free_port()
    etc = HOME / "etc" / "neutron"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
    env.update(
        DEVCLOUD_CONFIG_FILE=str(etc / "neutron.conf"),
        OS_NEUTRON_CONFIG_DIR=str(etc),
        OS_NEUTRON_CONFIG_FILES="neutron.conf",
    )
    with open(tmp_path / "neutron.log", "w") as log:
        proc = subprocess.Popen(
            [
                str(HOME / "venv" / "bin" / "gunicorn"),
                "--no-control-socket",
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                "8",
                "--bind",
                f"127.0.0.1:{port}",
                "devcloud_shims.wsgi:load('neutron')",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    project = "itfresh" + uuid.uuid4().hex[:25]
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "neutron.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the second Neutron never answered"
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)

        def create(i: int) -> int:
            answer = requests.post(
                f"http://127.0.0.1:{port}/v2.0/security-groups",
                headers={"X-Auth-Token": token},
                json={"security_group": {"name": f"fresh-{i}", "project_id": project}},
                timeout=120,
            )
            return answer.status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(create, range(8)))
        assert codes == [201] * 8
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        for group in list(conn.network.security_groups(project_id=project)):
            conn.network.delete_security_group(group)
