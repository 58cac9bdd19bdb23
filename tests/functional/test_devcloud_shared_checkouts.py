"""Worktrees sharing one devcloud (a ``.devcloud`` symlink) are the same devcloud to ``up``.

Regression (issue 14, 2026-12-06): the virtualenv's install fingerprint held
the path of the checkout whose shims were installed (editable), and the
rendered configs held the checkout's own ``.devcloud`` path, so ``devcloud up``
from any other worktree reinstalled the shims and restarted every daemon
while others were provisioning on it; the freshly started Neutron then refused
concurrent creates (see ``test_devcloud_fresh_api.py``).  Also: the WSGI shim
builds Neutron's and Cinder's policy enforcers before serving.
"""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest
from support.paths import REPO

sys.path.insert(0, str(REPO / "devcloud"))
sys.path.insert(0, str(REPO / "devcloud" / "shims"))

from devcloud_shims import wsgi  # noqa: E402
from devcloudctl import install  # noqa: E402
from devcloudctl.layout import Layout  # noqa: E402


def _checkout(root: Path, shared: Path) -> Layout:
    """A checkout with its own copy of ``devcloud/`` and ``.devcloud`` linked to ``shared``."""
    root.mkdir()
    shutil.copytree(
        REPO / "devcloud",
        root / "devcloud",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    (root / ".devcloud").symlink_to(shared)
    return Layout(root)


def test_two_worktrees_sharing_a_devcloud_need_no_reinstall_and_render_the_same_paths(tmp_path):
    shared = tmp_path / "main" / ".devcloud"
    shared.mkdir(parents=True)
    a = _checkout(tmp_path / "wt-a", shared)
    b = _checkout(tmp_path / "wt-b", shared)
    assert install._fingerprint(a) == install._fingerprint(b)
    assert install._fingerprint(a, openstack_only=True) == install._fingerprint(
        b, openstack_only=True
    )
    assert a.home == b.home == shared.resolve()
    assert a.etc == b.etc and a.data == b.data  # what the configs are rendered with
    # A build beside the sources changes nothing; a change to the shims does.
    (b.shims / "build" / "lib").mkdir(parents=True)
    (b.shims / "build" / "lib" / "stale.py").write_text("x = 1\n")
    assert install._fingerprint(a) == install._fingerprint(b)
    wsgi_b = b.shims / "devcloud_shims" / "wsgi.py"
    wsgi_b.write_text(wsgi_b.read_text() + "\n# changed\n")
    assert install._fingerprint(a) != install._fingerprint(b)


@pytest.mark.parametrize("service", ["neutron", "cinder"])
def test_the_wsgi_shim_builds_the_policy_enforcer_before_serving(service, monkeypatch):
    order: list[str] = []
    module_name = wsgi._APPS[service][0]
    parts = module_name.split(".")
    for i in range(1, len(parts)):
        monkeypatch.setitem(sys.modules, ".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    app = types.ModuleType(module_name)
    app.application = object()
    monkeypatch.setitem(sys.modules, module_name, app)
    policy = types.ModuleType(f"{service}.policy")
    policy.init = lambda: order.append("policy init")
    monkeypatch.setitem(sys.modules, f"{service}.policy", policy)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert wsgi.load(service) is app.application
    assert order == ["policy init"]
