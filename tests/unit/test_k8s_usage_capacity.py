"""Kubernetes metering (pod requests × time run inside the window) and the capacity gate
(nodes' allocatable against every namespace's quota), pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from policies.tenancy import load_tenant_policy
from provisioner.kubernetes.capacity import gate, node_lines, quota_promise, total_promise
from provisioner.kubernetes.desired import namespace_quota
from provisioner.kubernetes.kubeconfig import build, read_token, write
from provisioner.kubernetes.usage import claim_span, integrate, pod_span
from provisioner.secrets import Secret

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def pod(
    uid, start, *, phase="Running", finished=None, deleted=None, cpu="2", memory="4Gi", gpu=None
):
    requests = {"cpu": cpu, "memory": memory, **({"nvidia.com/gpu": gpu} if gpu else {})}
    status = {"phase": phase, "startTime": start.isoformat() if start else None}
    if finished:
        status["containerStatuses"] = [
            {"state": {"terminated": {"finishedAt": finished.isoformat()}}}
        ]
    meta = {"uid": uid, **({"deletionTimestamp": deleted.isoformat()} if deleted else {})}
    return {
        "metadata": meta,
        "spec": {"containers": [{"resources": {"requests": requests}}]},
        "status": status,
    }


def test_a_pod_counts_its_requests_for_the_part_of_its_run_inside_the_window():
    span = pod_span(
        pod("a", T0 - timedelta(hours=1), phase="Succeeded", finished=T0 + timedelta(hours=2))
    )
    used = integrate([span], T0, T0 + timedelta(hours=24))
    assert used["vcpu_hours"] == Decimal(4)  # 2 cores × 2 h inside the window
    assert used["ram_gb_hours"] == Decimal(8)
    assert used["gpu_hours"] == 0


def test_a_running_pod_counts_until_the_window_ends_and_a_pending_one_not_at_all():
    running = pod_span(pod("a", T0, gpu="1"))
    assert pod_span(pod("b", None)) is None
    used = integrate([running], T0, T0 + timedelta(hours=3))
    assert used["gpu_hours"] == Decimal(3)


def test_a_deleted_pod_ends_at_its_deletion():
    span = pod_span(pod("a", T0, deleted=T0 + timedelta(minutes=30)), deleted=True)
    assert integrate([span], T0, T0 + timedelta(hours=1))["vcpu_hours"] == Decimal(1)


def test_a_claim_gives_volume_gb_hours_from_its_creation():
    claim = {
        "metadata": {"uid": "c", "creationTimestamp": T0.isoformat()},
        "spec": {"resources": {"requests": {"storage": "10Gi"}}},
    }
    assert integrate([claim_span(claim)], T0, T0 + timedelta(hours=2))[
        "volume_gb_hours"
    ] == Decimal(20)


def test_capacity_gate_names_the_numbers_when_quotas_would_exceed_the_nodes():
    nodes = [
        {"cpu": "32", "memory": "128Gi"},
        {"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "4"},
    ]
    small = namespace_quota(load_tenant_policy().sizes["small"])
    lines = node_lines(nodes, total_promise([small]))
    by = {line.resource: line for line in lines}
    assert by["cores"].total == 96 and by["gpus"].total == 4 and by["ram_mb"].total == 640 * 1024
    assert by["cores"].used == 64
    verdicts = {v.resource: v for v in gate(lines, small)}
    assert verdicts["cores"].over
    assert (
        verdicts["cores"].message()
        == "cores: tenants' quotas would total 128, the cloud can allocate 96"
    )
    assert not verdicts["gpus"].over


def test_a_quota_with_bare_cpu_and_memory_keys_is_counted_too():
    assert quota_promise({"cpu": "500m", "memory": "1Gi"}) == {"cores": 0.5, "ram_mb": 1024.0}


def test_the_researcher_kubeconfig_is_0600_names_their_namespace_and_reads_back(tmp_path):
    from datetime import date

    from provisioner.kubernetes.desired import desired_namespace

    tenant = desired_namespace(
        pilot_id="RH-1",
        pilot_name="x",
        size="small",
        end=date(2027, 1, 1),
        policy=load_tenant_policy(),
    )
    path = write(
        tmp_path / "RH-1",
        build(tenant, server="https://k8s:6443", token=Secret("tok"), ca_data="Q0E="),
    )
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "RH-1").stat().st_mode & 0o777 == 0o700
    assert read_token(tmp_path / "RH-1") == {"token": "tok", "namespace": "ngc-rh-1"}
    assert "namespace: ngc-rh-1" in path.read_text()
    assert "certificate-authority-data: Q0E=" in path.read_text()


def test_the_readme_section_names_the_namespace_the_expiry_and_the_bastion():
    from datetime import date

    from provisioner.kubernetes.desired import desired_namespace
    from provisioner.kubernetes.kubeconfig import readme_section

    policy = load_tenant_policy()
    tenant = desired_namespace(
        pilot_id="RH-1", pilot_name="x", size="small", end=date(2027, 1, 1), policy=policy
    )
    text = readme_section(tenant, "2027-01-02T00:00:00+00:00")
    assert "Namespace `ngc-rh-1`" in text
    assert "2027-01-02T00:00:00+00:00" in text
    assert policy.tenancy.ops_cidr in text
    assert 'export KUBECONFIG="$PWD/kubeconfig"' in text
