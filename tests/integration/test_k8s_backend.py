"""The Kubernetes backend end to end: provision a namespace tenant, re-apply with 0 mutating
calls, converge after kill -9, repair drift, prove isolation with the tenant's own token,
tear down to nothing.

Runs against devcloud's Kubernetes API emulator (a private one per module, started by
``support.kube_emulator``) and, when ``NGC_PILOT_TEST_KUBECONFIG`` names a kubeconfig,
the same tests again against that real cluster (kind, k3s); otherwise that half is
skipped with the reason.  What the emulator does not emulate is in devcloud/README.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from support.kube_emulator import running_emulator
from support.paths import REPO

from policies.tenancy import load_tenant_policy
from provisioner.apply import apply
from provisioner.backend import CloudError
from provisioner.kubernetes import kubeconfig
from provisioner.kubernetes.backend import KubernetesBackend
from provisioner.kubernetes.connection import load
from provisioner.kubernetes.desired import NamespaceTenant, desired_namespace
from provisioner.kubernetes.manifests import manifests
from provisioner.kubernetes.plan import plan, plan_teardown

# one worker runs the whole module under `pytest -n`: its module-scoped fixture is set up once
pytestmark = pytest.mark.xdist_group("test_k8s_backend")

REAL = "NGC_PILOT_TEST_KUBECONFIG"


@dataclass(frozen=True)
class Target:
    name: str
    kubeconfig: Path


def _emulator_kubeconfig(path: Path, url: str, token: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": url}}],
                "users": [{"name": "admin", "user": {"token": token}}],
                "contexts": [
                    {"name": "emulator", "context": {"cluster": "emulator", "user": "admin"}}
                ],
                "current-context": "emulator",
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module", params=["emulator", "real cluster"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    if request.param == "real cluster":
        real = os.environ.get(REAL)
        if not real:
            pytest.skip(f"{REAL} is not set: no real Kubernetes cluster to run these tests against")
        yield Target("real cluster", Path(real))
        return
    tmp = Path(tmp_path_factory.mktemp("k8s-emulator"))
    with running_emulator(tmp) as emulator:
        yield Target(
            "emulator", _emulator_kubeconfig(tmp / "kubeconfig", emulator.url, emulator.admin_token)
        )


@pytest.fixture(scope="module")
def backend(target: Target) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(target.kubeconfig)
    yield backend
    backend.close()


def new_tenant(
    members: tuple[str, ...] = ("member@example.org",), size: str = "small"
) -> NamespaceTenant:
    today = date.today()
    return desired_namespace(
        pilot_id=f"IT-{uuid.uuid4().hex[:8]}",
        pilot_name="integration",
        size=size,
        end=today.replace(year=today.year + 1),
        policy=load_tenant_policy(),
        members=members,
    )


@pytest.fixture
def provisioned(
    backend: KubernetesBackend, tmp_path: Path
) -> Iterator[tuple[NamespaceTenant, Path]]:
    """A provisioned tenant with its researcher kubeconfig; torn down afterwards."""
    tenant = new_tenant()
    folder = tmp_path / tenant.pilot_id
    tokens = []

    report = apply(
        plan(tenant, backend.observe(tenant), credential_delivered=False),
        tenant,
        backend,
        on_secret=lambda secret, result: tokens.append(secret),
    )
    assert report.ok, report.error
    assert len(tokens) == 1
    config = kubeconfig.build(
        tenant, server=backend.server(), token=tokens[0], ca_data=backend.cluster.ca_data
    )
    kubeconfig.write(folder, config)
    yield tenant, folder
    apply(plan_teardown(tenant, backend.observe(tenant)), tenant, backend)


def researcher(folder: Path) -> client.CoreV1Api:
    return load(folder / "kubeconfig").core()


def restricted_pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sleep", "3600"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def test_provision_makes_every_object_and_the_researcher_kubeconfig_works(backend, provisioned):
    tenant, folder = provisioned
    core, admin = researcher(folder), backend.cluster
    ns = admin.core().read_namespace(tenant.namespace)
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns.metadata.annotations["ngc-pilot.org/pilot-id"] == tenant.pilot_id
    quota = admin.core().read_namespaced_resource_quota("ngc-quota", tenant.namespace)
    assert quota.spec.hard["services.nodeports"] == "0"
    policies = admin.networking().list_namespaced_network_policy(tenant.namespace).items
    assert {p.metadata.name for p in policies} == {
        "ngc-default-deny",
        "ngc-allow-same-namespace",
        "ngc-allow-dns",
        "ngc-allow-bastion",
    }
    assert (folder / "kubeconfig").stat().st_mode & 0o777 == 0o600
    # a pod without requests is admitted within quota thanks to the LimitRange defaults
    core.create_namespaced_pod(tenant.namespace, restricted_pod("hello"))
    assert [p.metadata.name for p in core.list_namespaced_pod(tenant.namespace).items] == ["hello"]


def test_a_re_apply_makes_zero_mutating_calls(backend, provisioned):
    tenant, _ = provisioned
    before = backend.mutating_calls
    again = plan(tenant, backend.observe(tenant))
    assert again.empty, again.as_dict()
    apply(again, tenant, backend)
    assert backend.mutating_calls == before


def test_drift_is_reported_and_repaired(backend, provisioned):
    tenant, _ = provisioned
    admin = backend.cluster
    admin.networking().delete_namespaced_network_policy("ngc-default-deny", tenant.namespace)
    admin.core().patch_namespaced_resource_quota(
        "ngc-quota",
        tenant.namespace,
        {"spec": {"hard": {"requests.cpu": "9999"}}},
        _content_type="application/merge-patch+json",
    )
    admin.rbac().create_namespaced_role_binding(
        tenant.namespace,
        {
            "metadata": {"name": "let-me-in"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "admin",
            },
            "subjects": [
                {
                    "kind": "Group",
                    "name": "system:authenticated",
                    "apiGroup": "rbac.authorization.k8s.io",
                }
            ],
        },
    )
    drift = plan(tenant, backend.observe(tenant))
    assert sorted(c.step for c in drift.changes) == [
        "create network_policy ngc-default-deny",
        "delete role_binding let-me-in",
        "update resource_quota ngc-quota",
    ]
    assert apply(drift, tenant, backend).ok
    assert plan(tenant, backend.observe(tenant)).empty


def test_the_tenant_token_is_refused_everywhere_outside_its_namespace(backend, provisioned):
    tenant, folder = provisioned
    other = new_tenant()
    assert apply(plan(other, backend.observe(other)), other, backend).ok
    try:
        backend.cluster.core().create_namespaced_secret(
            other.namespace, {"metadata": {"name": "data"}, "stringData": {"k": "v"}}
        )
        probes = backend.probe_isolation(
            tenant.pilot_id,
            kubeconfig.read_token(folder),
            {
                other.pilot_id: {"namespace": other.namespace},
                tenant.pilot_id: {"namespace": tenant.namespace},
            },
        )
    finally:
        apply(plan_teardown(other, backend.observe(other)), other, backend)
    tried = {(p.target, p.what) for p in probes}
    assert {
        (other.pilot_id, w)
        for w in (
            "list pods",
            "get pod",
            "list secrets",
            "get secret",
            "list configmaps",
            "get configmap",
        )
    } <= tried
    assert {
        ("cluster", w)
        for w in ("list namespaces", "list nodes", "create namespace", "create clusterrolebinding")
    } <= tried
    assert [p for p in probes if p.leaked] == []
    assert all(p.target != tenant.pilot_id for p in probes)


def test_kill_9_after_any_step_then_re_apply_converges_without_duplicates(backend, target):
    tenant = new_tenant()
    steps = len(manifests(tenant))
    script = REPO / "tests" / "integration" / "kill_mid_k8s_apply.py"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    try:
        # each run is killed right after its first step, so every step in turn is the last
        for _ in range(steps + 1):
            run = subprocess.run(
                [sys.executable, str(script), str(target.kubeconfig), tenant.pilot_id, "1"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode in (-9, 0), run.stderr[-2000:]
            if run.returncode == 0:
                break
            kills += 1
        assert kills == steps  # killed after each of the tenant's steps
        report = apply(plan(tenant, backend.observe(tenant)), tenant, backend)
        assert report.ok, report.error
        assert plan(tenant, backend.observe(tenant)).empty
        accounts = backend.cluster.core().list_namespaced_service_account(tenant.namespace).items
        assert sorted(a.metadata.name for a in accounts) == sorted(
            {"default", *tenant.service_accounts}
        )
    finally:
        apply(plan_teardown(tenant, backend.observe(tenant)), tenant, backend)


def test_teardown_leaves_nothing_and_the_token_stops_working(backend, tmp_path):
    tenant = new_tenant()
    tokens = []
    apply(
        plan(tenant, backend.observe(tenant), credential_delivered=False),
        tenant,
        backend,
        on_secret=lambda s, r: tokens.append(s),
    )
    kubeconfig.write(
        tmp_path,
        kubeconfig.build(
            tenant, server=backend.server(), token=tokens[0], ca_data=backend.cluster.ca_data
        ),
    )
    report = apply(plan_teardown(tenant, backend.observe(tenant)), tenant, backend)
    assert report.ok, report.error
    assert backend.leftovers(tenant) == []
    assert plan_teardown(tenant, backend.observe(tenant)).empty
    with pytest.raises(ApiException) as refused:
        researcher(tmp_path).list_namespaced_pod(tenant.namespace)
    assert refused.value.status in (401, 403)


def test_capacity_counts_nodes_and_every_quota(backend, provisioned):
    tenant, _ = provisioned
    lines = {line.resource: line for line in backend.capacity()}
    assert set(lines) == {"cores", "ram_mb", "gpus"}
    assert lines["cores"].total > 0
    assert lines["cores"].used >= load_tenant_policy().sizes["small"].cores
    without = {line.resource: line for line in backend.capacity(excluding=tenant.namespace)}
    assert without["cores"].used == lines["cores"].used - load_tenant_policy().sizes["small"].cores


def test_a_kubeconfig_that_does_not_load_is_one_clear_error(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [oops\n")
    with pytest.raises(CloudError, match=r"cannot load kubeconfig .*kubeconfig: ") as error:
        KubernetesBackend(bad)
    assert "\n" not in str(error.value)
    with pytest.raises(CloudError, match="cannot load kubeconfig"):
        KubernetesBackend(tmp_path / "missing")


def test_a_pod_run_through_the_researcher_kubeconfig_is_metered_and_a_rerun_is_identical(
    backend, provisioned, target
):
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    if target.name != "emulator":
        pytest.skip("ending a pod on cue needs the emulator's pods/status (no container runs)")
    tenant, folder = provisioned
    core = researcher(folder)
    body = restricted_pod("work")
    body["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    core.create_namespaced_pod(tenant.namespace, body)
    admin = backend.cluster.core()
    admin = backend.cluster.core()
    # The pod "ran" for 30 minutes: its start moved back through pods/status, then it ends.
    began = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    admin.patch_namespaced_pod_status(
        "work",
        tenant.namespace,
        {"status": {"startTime": began.isoformat(), "phase": "Succeeded"}},
        _content_type="application/merge-patch+json",
    )
    ended = (
        admin.read_namespaced_pod("work", tenant.namespace)
        .status.container_statuses[0]
        .state.terminated.finished_at
    )
    admin.delete_namespaced_pod("work", tenant.namespace)  # deleted: still metered (emulator)
    start = began - timedelta(hours=1)
    end = start + timedelta(hours=3)
    first = backend.usage([tenant.namespace], start, end)
    assert first == backend.usage([tenant.namespace], start, end)
    by = {s.metric: s.quantity for s in first}
    assert set(by) == {"vcpu_hours", "ram_gb_hours", "gpu_hours", "volume_gb_hours"}
    hours = Decimal((ended - began).total_seconds()) / 3600
    assert hours >= Decimal("0.5")  # the moved start was kept
    assert by["vcpu_hours"] == 2 * hours and by["ram_gb_hours"] == 4 * hours
    assert by["gpu_hours"] == Decimal(0)


def test_the_probe_reports_a_leak_when_a_binding_opens_another_namespace(backend, provisioned):
    tenant, folder = provisioned
    other = new_tenant()
    assert apply(plan(other, backend.observe(other)), other, backend).ok
    leak = f"leak-{tenant.namespace}"
    backend.cluster.rbac().create_cluster_role_binding(
        {
            "metadata": {"name": leak},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "pi", "namespace": tenant.namespace}],
        }
    )
    try:
        probes = backend.probe_isolation(
            tenant.pilot_id,
            kubeconfig.read_token(folder),
            {other.pilot_id: {"namespace": other.namespace}},
        )
    finally:
        backend.cluster.rbac().delete_cluster_role_binding(leak)
        apply(plan_teardown(other, backend.observe(other)), other, backend)
    leaked = {p.what for p in probes if p.leaked}
    assert {"list pods", "list configmaps"} <= leaked
    assert "create namespace" not in leaked


def test_a_namespace_nobody_claimed_is_neither_adopted_nor_deleted(backend):
    from provisioner.backend import ForeignResourceError

    tenant = new_tenant()
    backend.cluster.core().create_namespace({"metadata": {"name": tenant.namespace}})
    try:
        observed = backend.observe(tenant)
        with pytest.raises(ForeignResourceError, match="not tagged as any pilot's"):
            plan(tenant, observed)
        with pytest.raises(ForeignResourceError):
            plan_teardown(tenant, observed)
        assert backend.leftovers(tenant) == [f"namespace {tenant.namespace}"]
    finally:
        backend.cluster.core().delete_namespace(tenant.namespace)
