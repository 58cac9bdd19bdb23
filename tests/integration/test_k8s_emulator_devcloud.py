"""``devcloud up``'s wiring of the Kubernetes API emulator, on a state directory of its own.

The shared devcloud is in use, so this never runs ``up``/``down`` on it: it
builds a throwaway checkout (``devcloud/`` linked to this one's, the virtualenv
linked to the test's own Python, which has kubernetes-validate) and drives the
controller's emulator step, ``status`` and ``down`` there.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from kubernetes import client, config
from support.paths import REPO

sys.path.insert(0, str(REPO / "devcloud"))

from devcloudctl import kube  # noqa: E402
from devcloudctl.cli import Devcloud  # noqa: E402
from devcloudctl.layout import Layout  # noqa: E402
from devcloudctl.state import State  # noqa: E402

# Every throwaway checkout chooses the same free ports (the first block after
# the shared devcloud's), so two of these tests at once on two workers both
# chose the emulator's port and the second could not bind it: one worker.
pytestmark = pytest.mark.xdist_group("test_k8s_emulator_devcloud")


@pytest.fixture
def checkout(tmp_path: Path) -> Layout:
    repo = tmp_path / "checkout"
    (repo / ".devcloud").mkdir(parents=True)
    (repo / "devcloud").symlink_to(REPO / "devcloud")
    (repo / ".devcloud" / "venv").symlink_to(Path(sys.executable).parent.parent)
    return Layout(repo)


def test_up_starts_the_emulator_once_writes_a_kubeconfig_and_down_stops_it(checkout, capsys):
    dc = Devcloud(checkout)
    state = State.load(checkout)
    state.save()
    try:
        kube.ensure(checkout, state, dc.procs, dc.console, dc.base_env())
        first = dc.procs.running(kube.NAME)
        assert first is not None
        kubeconfig = kube.kubeconfig_path(checkout)
        assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
        api = config.new_client_from_config(config_file=str(kubeconfig))
        with api:
            nodes = client.CoreV1Api(api).list_node().items
        assert {n.metadata.name for n in nodes} >= {"devcloud-gpu-1"}

        kube.ensure(checkout, State.load(checkout), dc.procs, dc.console, dc.base_env())
        assert dc.procs.running(kube.NAME) == first  # already up: left alone
        assert kube.up_quick(checkout, State.load(checkout), dc.procs)

        dc.status()
        shown = capsys.readouterr().out
        assert f"Kubernetes API emulator  {first.pid:>7}  answers" in shown
        assert f"kubeconfig: {kubeconfig}" in shown
    finally:
        dc.down()
    assert dc.procs.running(kube.NAME) is None


def test_a_restarted_emulator_keeps_its_objects_and_tokens(checkout):
    dc = Devcloud(checkout)
    state = State.load(checkout)
    state.save()
    try:
        kube.ensure(checkout, state, dc.procs, dc.console, dc.base_env())
        admin = config.new_client_from_config(config_file=str(kube.kubeconfig_path(checkout)))
        core = client.CoreV1Api(admin)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="kept")))
        core.create_namespaced_service_account(
            "kept", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="dana"))
        )
        token = core.create_namespaced_service_account_token(
            "dana",
            "kept",
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
            ),
        ).status.token
        dc.procs.stop(kube.NAME)
        kube.ensure(checkout, State.load(checkout), dc.procs, dc.console, dc.base_env())
        assert core.read_namespace("kept").status.phase == "Active"
        cfg = client.Configuration()
        cfg.host = kube.url(State.load(checkout))
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        with client.ApiClient(cfg) as dana:
            review = client.AuthorizationV1Api(dana).create_self_subject_access_review(
                client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(
                        resource_attributes=client.V1ResourceAttributes(
                            namespace="kept", verb="get", resource="pods"
                        )
                    )
                )
            )
        assert review.status.allowed is False  # authenticated (not 401), not authorized
        admin.close()
    finally:
        dc.down()


def test_up_with_openstack_already_up_starts_only_the_emulator_and_then_does_nothing(
    checkout, monkeypatch, capsys
):
    # OpenStack is not under test here: ``up``'s check of it is taken as "all up"
    monkeypatch.setattr(Devcloud, "all_up_quick", lambda self, state: True)
    dc = Devcloud(checkout)
    State.load(checkout).save()  # not fresh: an earlier ``up`` ran here
    try:
        assert dc.up() == 0
        first = dc.procs.running(kube.NAME)
        assert first is not None
        assert "started the Kubernetes API emulator" in capsys.readouterr().out
        assert dc.up() == 0
        again = capsys.readouterr().out
        assert dc.procs.running(kube.NAME) == first
        assert "started" not in again and "already up" in again
    finally:
        dc.down()
    assert dc.procs.running(kube.NAME) is None
