"""devcloud runs Neutron's API in two worker processes, Keystone's in one, and a
change of a daemon's command line reaches a running devcloud.

Neutron answers most of a parallel provisioning's requests; in one Python process
it uses one core at most (issue 14).  Keystone stays at one: its token cache is
in-process.  The worker count is rendered into neutron.conf and services.py is
part of the config fingerprint, so ``devcloud up`` on a devcloud started with
another count re-renders Neutron's config and restarts it.
"""

from __future__ import annotations

import re
import shutil
import sys
import types
from pathlib import Path

from support.paths import REPO

sys.path.insert(0, str(REPO / "devcloud"))

from devcloudctl import configs, services  # noqa: E402
from devcloudctl.layout import Layout  # noqa: E402


def _workers(name: str) -> int:
    state = types.SimpleNamespace(ports={name.removesuffix("-api"): 25999})
    command = services.argv(services.BY_NAME[name], Layout(REPO), state)
    return int(command[command.index("--workers") + 1])


def test_neutron_serves_from_two_worker_processes_and_keystone_from_one():
    assert _workers("neutron-api") == 2
    assert _workers("keystone") == 1


def test_the_rendered_neutron_config_carries_the_worker_count():
    template = (REPO / "devcloud" / "templates" / "neutron.conf").read_text()
    values = {k: "x" for k in re.findall(r"\{\{(\w+)\}\}", template)}
    values["neutron_api_workers"] = str(services.API_WORKERS["neutron-api"])
    assert "\napi_workers = 2\n" in configs.render(template, values, "neutron.conf")


def test_a_changed_command_line_changes_the_config_fingerprint(tmp_path: Path):
    root = tmp_path / "checkout"
    shutil.copytree(
        REPO / "devcloud",
        root / "devcloud",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    (tmp_path / "home").mkdir()
    (root / ".devcloud").symlink_to(tmp_path / "home")
    layout = Layout(root)
    before = configs.fingerprint(layout)
    source = root / "devcloud" / "devcloudctl" / "services.py"
    source.write_text(source.read_text().replace('"neutron-api": 2', '"neutron-api": 3'))
    assert configs.fingerprint(layout) != before
