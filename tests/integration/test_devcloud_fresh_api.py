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
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import openstack
import requests
from openstack.config import loader
from support.paths import REPO

sys.path.insert(0, str(REPO / "devcloud"))

from devcloudctl import services  # noqa: E402
from devcloudctl.layout import Layout  # noqa: E402
from devcloudctl.state import State  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_fresh_neutron_refuses_no_concurrent_admin_create(devcloud, tmp_path):
    config = loader.OpenStackConfig(config_files=[str(devcloud)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud="devcloud"))
    token = conn.session.get_token()
    port = _free_port()
    # Launched as devcloud launches its own Neutron (devcloudctl's argv and
    # environment), on another port and under another process name.
    layout = Layout(REPO)
    neutron = services.BY_NAME["neutron-api"]
    command = services.argv(neutron, layout, State.load(layout))
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--name") + 1] = "devcloud-test-fresh-neutron"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
    env = services.environment(neutron, layout, base)
    with open(tmp_path / "neutron.log", "w") as log:
        proc = subprocess.Popen(
            command,
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
