"""devcloud's Kubernetes API emulator, driven by the official ``kubernetes`` client.

Each test module run starts its own emulator on a free port (never the shared
devcloud's), so the objects here are the tests' own. What the emulator does and
does not emulate is in devcloud/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from support.kube_emulator import RunningEmulator, running_emulator

# one worker runs the whole module under `pytest -n`: its module-scoped fixture is set up once
pytestmark = pytest.mark.xdist_group("test_k8s_emulator")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(Path(tmp_path_factory.mktemp("kube-emulator"))) as running:
        yield running


def api_client(url: str, token: str) -> client.ApiClient:
    config = client.Configuration()
    config.host = url
    config.api_key = {"authorization": token}
    config.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(config)


@pytest.fixture(scope="module")
def admin(emulator: RunningEmulator) -> Iterator[client.ApiClient]:
    with api_client(emulator.url, emulator.admin_token) as api:
        yield api


def make_namespace(admin: client.ApiClient, name: str) -> None:
    client.CoreV1Api(admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"pilot": name}))
    )


def pod(name: str, requests: dict[str, str] | None = None) -> client.V1Pod:
    resources = client.V1ResourceRequirements(requests=requests) if requests else None
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="busybox", resources=resources)]
        ),
    )


def status_of(error: ApiException) -> dict:
    import json

    return json.loads(error.body)


def raw(api: client.ApiClient, method: str, path: str, response_type: str, body=None):
    """A request the typed API has no method for, through the client's own plumbing."""
    method, url, headers, body, _ = api.param_serialize(
        method,
        path,
        header_params={"Content-Type": "application/json"} if body else None,
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, headers, body)
    response.read()
    return api.response_deserialize(response, {"200": response_type, "201": response_type}).data


def service_account_token(admin: client.ApiClient, namespace: str, name: str) -> str:
    core = client.CoreV1Api(admin)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )
    issued = core.create_namespaced_service_account_token(
        name,
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=7200)
        ),
    )
    return issued.status.token


def test_a_pod_over_the_namespace_quota_is_refused_with_the_numbers(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "quota-a")
    core.create_namespaced_resource_quota(
        "quota-a",
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="pilot"),
            spec=client.V1ResourceQuotaSpec(
                hard={
                    "requests.cpu": "2",
                    "requests.memory": "4Gi",
                    "requests.nvidia.com/gpu": "1",
                    "pods": "3",
                }
            ),
        ),
    )
    core.create_namespaced_pod(
        "quota-a", pod("fits", {"cpu": "1500m", "memory": "1Gi", "nvidia.com/gpu": "1"})
    )
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("quota-a", pod("too-big", {"cpu": "1", "memory": "1Gi"}))
    assert refused.value.status == 403
    body = status_of(refused.value)
    assert body["kind"] == "Status" and body["reason"] == "Forbidden"
    assert "exceeded quota: pilot" in body["message"]
    assert "requests.cpu=1" in body["message"] and "limited: requests.cpu=2" in body["message"]
    with pytest.raises(ApiException) as gpu:
        core.create_namespaced_pod(
            "quota-a", pod("second-gpu", {"cpu": "100m", "memory": "1Gi", "nvidia.com/gpu": "1"})
        )
    assert "requests.nvidia.com/gpu" in status_of(gpu.value)["message"]
    quota = core.read_namespaced_resource_quota("pilot", "quota-a")
    assert quota.status.used["requests.cpu"] == "1.5"
    assert quota.status.used["pods"] == "1"


def test_a_quota_on_cpu_refuses_a_pod_without_requests_unless_a_limit_range_defaults_them(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "limits-a")
    core.create_namespaced_resource_quota(
        "limits-a",
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="pilot"),
            spec=client.V1ResourceQuotaSpec(hard={"requests.cpu": "1", "requests.memory": "1Gi"}),
        ),
    )
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("limits-a", pod("bare"))
    assert refused.value.status == 403
    assert "must specify requests.cpu,requests.memory" in status_of(refused.value)["message"]
    core.create_namespaced_limit_range(
        "limits-a",
        client.V1LimitRange(
            metadata=client.V1ObjectMeta(name="defaults"),
            spec=client.V1LimitRangeSpec(
                limits=[
                    client.V1LimitRangeItem(
                        type="Container",
                        default={"cpu": "500m", "memory": "512Mi"},
                        default_request={"cpu": "250m", "memory": "256Mi"},
                    )
                ]
            ),
        ),
    )
    created = core.create_namespaced_pod("limits-a", pod("bare"))
    resources = created.spec.containers[0].resources
    assert resources.requests == {"cpu": "250m", "memory": "256Mi"}
    assert resources.limits == {"cpu": "500m", "memory": "512Mi"}
    assert created.status.phase == "Running" and created.status.start_time is not None


def test_a_service_account_token_is_refused_in_another_namespace_and_at_cluster_scope(
    admin, emulator
):
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    for ns in ("rbac-a", "rbac-b"):
        make_namespace(admin, ns)
    core.create_namespaced_pod("rbac-b", pod("other"))
    rbac.create_namespaced_role(
        "rbac-a",
        client.V1Role(
            metadata=client.V1ObjectMeta(name="member"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""],
                    resources=["pods", "pods/log", "pods/exec"],
                    verbs=["get", "list", "create"],
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        "rbac-a",
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="member"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="member"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="alice", namespace="rbac-a")
            ],
        ),
    )
    token = service_account_token(admin, "rbac-a", "alice")
    with api_client(emulator.url, token) as mine:
        own = client.CoreV1Api(mine)
        own.create_namespaced_pod("rbac-a", pod("mine"))
        assert [p.metadata.name for p in own.list_namespaced_pod("rbac-a").items] == ["mine"]
        assert "no containers" in own.read_namespaced_pod_log("mine", "rbac-a")
        probes = [
            lambda: own.list_namespaced_pod("rbac-b"),
            lambda: own.read_namespaced_pod("other", "rbac-b"),
            lambda: own.read_namespaced_pod_log("other", "rbac-b"),
            lambda: own.list_namespaced_secret("rbac-a"),
            lambda: own.list_namespace(),
            lambda: own.read_node("devcloud-gpu-1"),
            lambda: own.create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name="escape"))
            ),
            lambda: client.RbacAuthorizationV1Api(mine).create_cluster_role_binding(
                client.V1ClusterRoleBinding(
                    metadata=client.V1ObjectMeta(name="escape"),
                    role_ref=client.V1RoleRef(
                        api_group="rbac.authorization.k8s.io",
                        kind="ClusterRole",
                        name="cluster-admin",
                    ),
                    subjects=[
                        client.RbacV1Subject(
                            kind="ServiceAccount", name="alice", namespace="rbac-a"
                        )
                    ],
                )
            ),
        ]
        for probe in probes:
            with pytest.raises(ApiException) as refused:
                probe()
            assert refused.value.status == 403
            body = status_of(refused.value)
            assert body["reason"] == "Forbidden"
            assert 'User "system:serviceaccount:rbac-a:alice" cannot' in body["message"]
        review = client.AuthorizationV1Api(mine).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        namespace="rbac-b", verb="get", resource="pods"
                    )
                )
            )
        )
        assert review.status.allowed is False


def test_an_unknown_token_is_401(emulator):
    with api_client(emulator.url, "not-a-token") as stranger:
        with pytest.raises(ApiException) as refused:
            client.CoreV1Api(stranger).list_namespace()
    assert refused.value.status == 401


def test_deleting_a_namespace_removes_what_is_inside_and_keeps_pod_end_times(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "gone")
    core.create_namespaced_pod("gone", pod("worker"))
    core.create_namespaced_config_map(
        "gone", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"))
    )
    core.delete_namespace("gone")
    with pytest.raises(ApiException) as missing:
        core.read_namespace("gone")
    assert missing.value.status == 404
    assert status_of(missing.value)["reason"] == "NotFound"
    assert not [
        p for p in core.list_pod_for_all_namespaces().items if p.metadata.namespace == "gone"
    ]
    assert not [
        c for c in core.list_config_map_for_all_namespaces().items if c.metadata.namespace == "gone"
    ]
    finished = raw(
        admin, "GET", "/apis/emulator.devcloud/v1/namespaces/gone/finishedpods", "V1PodList"
    )
    (ended,) = finished.items
    assert ended.metadata.name == "worker"
    assert ended.status.start_time <= ended.metadata.deletion_timestamp
    make_namespace(admin, "gone")  # the name is free again
    assert core.list_namespaced_pod("gone").items == []


def test_a_stale_resource_version_is_a_conflict_and_a_duplicate_already_exists(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "conflicts")
    first = core.read_namespace("conflicts")
    first.metadata.labels["changed"] = "once"
    updated = core.replace_namespace("conflicts", first)
    assert int(updated.metadata.resource_version) > int(first.metadata.resource_version)
    first.metadata.labels["changed"] = "twice"
    with pytest.raises(ApiException) as stale:
        core.replace_namespace("conflicts", first)
    assert stale.value.status == 409 and status_of(stale.value)["reason"] == "Conflict"
    with pytest.raises(ApiException) as again:
        make_namespace(admin, "conflicts")
    assert again.value.status == 409 and status_of(again.value)["reason"] == "AlreadyExists"


def test_patches_merge_labels_and_containers(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "patches")
    patched = core.patch_namespace("patches", {"metadata": {"labels": {"extra": "yes"}}})
    assert (
        patched.metadata.labels["pilot"] == "patches" and patched.metadata.labels["extra"] == "yes"
    )
    core.create_namespaced_pod("patches", pod("p"))
    done = core.patch_namespaced_pod_status("p", "patches", {"status": {"phase": "Succeeded"}})
    terminated = done.status.container_statuses[0].state.terminated
    assert terminated.finished_at >= done.status.start_time


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metadata": {"name": "Not_A_Name"}}, "metadata.name"),
        ({"metadata": {"name": "ok", "labels": {"pilot": "has spaces"}}}, "metadata.labels[pilot]"),
        ({"metadata": {"name": "ok"}, "spec": {"bogus": True}}, "spec"),
    ],
)
def test_an_invalid_namespace_is_422_naming_the_field(admin, body, field):
    # sent raw: the client's own models would refuse some of these before sending
    with pytest.raises(ApiException) as invalid:
        raw(admin, "POST", "/api/v1/namespaces", "V1Namespace", body)
    assert invalid.value.status == 422
    causes = status_of(invalid.value)["details"]["causes"]
    assert field in [c["field"] for c in causes]


def test_a_pod_with_a_malformed_quantity_is_422_naming_the_field(admin):
    make_namespace(admin, "invalid-pod")
    with pytest.raises(ApiException) as invalid:
        client.CoreV1Api(admin).create_namespaced_pod("invalid-pod", pod("p", {"cpu": "two"}))
    assert invalid.value.status == 422
    body = status_of(invalid.value)
    assert body["details"]["causes"][0]["field"] == "spec.containers[0].resources.requests[cpu]"
    assert 'Pod "p" is invalid' in body["message"]


def test_token_request_gives_an_expiring_token_that_dies_with_its_service_account(admin, emulator):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "tokens")
    core.create_namespaced_service_account(
        "tokens", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="bob"))
    )
    issued = core.create_namespaced_service_account_token(
        "bob",
        "tokens",
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=86400)
        ),
    )
    expires = issued.status.expiration_timestamp
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    with api_client(emulator.url, issued.status.token) as bob:
        review = client.AuthorizationV1Api(bob).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        namespace="tokens", verb="list", resource="pods"
                    )
                )
            )
        )
        assert review.status.allowed is False
        core.delete_namespaced_service_account("bob", "tokens")
        with pytest.raises(ApiException) as dead:
            client.CoreV1Api(bob).list_namespaced_pod("tokens")
        assert dead.value.status == 401


def test_nodes_offer_cpu_memory_and_gpus(admin):
    nodes = client.CoreV1Api(admin).list_node().items
    gpus = sum(int(n.status.allocatable.get("nvidia.com/gpu", "0")) for n in nodes)
    assert len(nodes) == 3 and gpus == 4
    assert all("cpu" in n.status.allocatable and "memory" in n.status.allocatable for n in nodes)


def test_strategic_merge_merges_containers_by_name_and_json_patch_edits_in_place(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "merges")
    core.create_namespaced_pod("merges", pod("p"))
    merged = core.patch_namespaced_pod(
        "p", "merges", {"spec": {"containers": [{"name": "main", "image": "alpine"}]}}
    )
    assert [(c.name, c.image) for c in merged.spec.containers] == [("main", "alpine")]
    core.create_namespaced_config_map(
        "merges", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "1"})
    )
    edited = core.patch_namespaced_config_map(
        "c", "merges", [{"op": "replace", "path": "/data/a", "value": "2"}]
    )
    assert edited.data == {"a": "2"}
    with pytest.raises(ApiException) as bad:
        core.patch_namespaced_config_map("c", "merges", {"metadata": {"labels": {"bad": "not ok"}}})
    assert bad.value.status == 422
    assert core.read_namespaced_config_map("c", "merges").metadata.labels is None


def test_claims_count_against_the_storage_quota(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "storage")
    core.create_namespaced_resource_quota(
        "storage",
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="pilot"),
            spec=client.V1ResourceQuotaSpec(
                hard={"requests.storage": "10Gi", "persistentvolumeclaims": "5"}
            ),
        ),
    )

    def claim(name: str, size: str) -> client.V1PersistentVolumeClaim:
        return client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                resources=client.V1VolumeResourceRequirements(requests={"storage": size}),
            ),
        )

    bound = core.create_namespaced_persistent_volume_claim("storage", claim("data", "8Gi"))
    assert bound.status.phase == "Bound"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_persistent_volume_claim("storage", claim("more", "4Gi"))
    assert refused.value.status == 403
    assert "requests.storage" in status_of(refused.value)["message"]


def test_a_cluster_role_binding_grants_across_namespaces_and_resource_names_narrow_a_rule(
    admin, emulator
):
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    make_namespace(admin, "watcher")
    make_namespace(admin, "watched")
    core.create_namespaced_config_map(
        "watched", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="open"))
    )
    core.create_namespaced_config_map(
        "watched", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="closed"))
    )
    rbac.create_cluster_role(
        client.V1ClusterRole(
            metadata=client.V1ObjectMeta(name="one-config-map"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""],
                    resources=["configmaps"],
                    verbs=["get"],
                    resource_names=["open"],
                )
            ],
        )
    )
    rbac.create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name="carol-reads-open"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="one-config-map"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="carol", namespace="watcher")
            ],
        )
    )
    token = service_account_token(admin, "watcher", "carol")
    with api_client(emulator.url, token) as carol:
        mine = client.CoreV1Api(carol)
        assert mine.read_namespaced_config_map("open", "watched").metadata.name == "open"
        for probe in (
            lambda: mine.read_namespaced_config_map("closed", "watched"),
            lambda: mine.list_namespaced_config_map("watched"),
            lambda: mine.connect_post_namespaced_pod_exec("anything", "watched"),
        ):
            with pytest.raises(ApiException) as refused:
                probe()
            assert refused.value.status == 403


def test_exec_is_authorized_then_refused_because_nothing_runs(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "exec")
    core.create_namespaced_pod("exec", pod("p"))
    with pytest.raises(ApiException) as refused:
        core.connect_post_namespaced_pod_exec("p", "exec", command=["true"])
    assert refused.value.status == 400
    assert "Upgrade request required" in status_of(refused.value)["message"]


def test_a_token_shorter_than_ten_minutes_is_422(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "short")
    core.create_namespaced_service_account(
        "short", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="s"))
    )
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_service_account_token(
            "s",
            "short",
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=60)
            ),
        )
    assert invalid.value.status == 422
    assert status_of(invalid.value)["details"]["causes"][0]["field"] == "spec.expirationSeconds"


def test_lists_filter_by_label_selector(admin):
    core = client.CoreV1Api(admin)
    make_namespace(admin, "select-one")
    make_namespace(admin, "select-two")
    found = core.list_namespace(label_selector="pilot in (select-one,select-two)").items
    assert sorted(n.metadata.name for n in found) == ["select-one", "select-two"]
    assert [
        n.metadata.name for n in core.list_namespace(label_selector="pilot=select-two").items
    ] == ["select-two"]


def test_a_pod_is_bound_to_a_node_with_room_or_stays_pending_without_a_start_time(tmp_path):
    # an emulator of its own: the nodes' free room depends on every pod in the cluster
    with running_emulator(tmp_path) as own, api_client(own.url, own.admin_token) as admin:
        pods_on_fresh_nodes(admin)


def pods_on_fresh_nodes(admin: client.ApiClient) -> None:
    core = client.CoreV1Api(admin)
    make_namespace(admin, "scheduling")
    gpu = core.create_namespaced_pod(
        "scheduling", pod("four-gpus", {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "4"})
    )
    assert gpu.spec.node_name == "devcloud-gpu-1" and gpu.status.phase == "Running"
    pending = core.create_namespaced_pod(
        "scheduling", pod("one-more-gpu", {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})
    )
    assert pending.status.phase == "Pending" and pending.status.start_time is None
    assert pending.status.conditions[0].reason == "Unschedulable"
    core.delete_namespaced_pod("four-gpus", "scheduling")
    again = core.create_namespaced_pod(
        "scheduling", pod("now-fits", {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})
    )
    assert again.spec.node_name == "devcloud-gpu-1"


def test_a_whole_tenant_as_issue_10_describes_it_is_accepted_and_its_quota_holds(admin):
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    net = client.NetworkingV1Api(admin)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name="ngc-p01",
                labels={
                    "ngc-pilot/pilot": "P01",
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            )
        )
    )
    core.create_namespaced_resource_quota(
        "ngc-p01",
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="pilot"),
            spec=client.V1ResourceQuotaSpec(
                hard={
                    "requests.cpu": "8",
                    "limits.cpu": "16",
                    "requests.memory": "32Gi",
                    "limits.memory": "64Gi",
                    "requests.nvidia.com/gpu": "1",
                    "requests.storage": "100Gi",
                    "persistentvolumeclaims": "10",
                    "pods": "20",
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            ),
        ),
    )
    core.create_namespaced_limit_range(
        "ngc-p01",
        client.V1LimitRange(
            metadata=client.V1ObjectMeta(name="defaults"),
            spec=client.V1LimitRangeSpec(
                limits=[
                    client.V1LimitRangeItem(
                        type="Container",
                        default={"cpu": "1", "memory": "2Gi"},
                        default_request={"cpu": "500m", "memory": "1Gi"},
                    )
                ]
            ),
        ),
    )
    core.create_namespaced_service_account(
        "ngc-p01", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="member-alice"))
    )
    rbac.create_namespaced_role(
        "ngc-p01",
        client.V1Role(
            metadata=client.V1ObjectMeta(name="member"),
            rules=[
                client.V1PolicyRule(
                    api_groups=["", "apps", "batch"],
                    resources=[
                        "pods",
                        "pods/log",
                        "pods/exec",
                        "services",
                        "configmaps",
                        "secrets",
                        "persistentvolumeclaims",
                        "deployments",
                        "jobs",
                    ],
                    verbs=["get", "list", "watch", "create", "update", "patch", "delete"],
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        "ngc-p01",
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="member"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="member"
            ),
            subjects=[
                client.RbacV1Subject(
                    kind="ServiceAccount", name="member-alice", namespace="ngc-p01"
                )
            ],
        ),
    )
    everything = client.V1LabelSelector()
    net.create_namespaced_network_policy(
        "ngc-p01",
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="default-deny"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=everything, policy_types=["Ingress", "Egress"]
            ),
        ),
    )
    net.create_namespaced_network_policy(
        "ngc-p01",
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="allow-inside-dns-bastion"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=everything,
                policy_types=["Ingress", "Egress"],
                ingress=[
                    client.V1NetworkPolicyIngressRule(
                        _from=[
                            client.V1NetworkPolicyPeer(pod_selector=everything),
                            client.V1NetworkPolicyPeer(
                                ip_block=client.V1IPBlock(cidr="10.20.0.0/24")
                            ),
                        ]
                    )
                ],
                egress=[
                    client.V1NetworkPolicyEgressRule(
                        to=[client.V1NetworkPolicyPeer(pod_selector=everything)]
                    ),
                    client.V1NetworkPolicyEgressRule(
                        to=[
                            client.V1NetworkPolicyPeer(
                                namespace_selector=client.V1LabelSelector(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                )
                            )
                        ],
                        ports=[
                            client.V1NetworkPolicyPort(protocol="UDP", port=53),
                            client.V1NetworkPolicyPort(protocol="TCP", port=53),
                        ],
                    ),
                ],
            ),
        ),
    )
    stored = net.read_namespaced_network_policy("allow-inside-dns-bastion", "ngc-p01")
    assert stored.spec.ingress[0]._from[1].ip_block.cidr == "10.20.0.0/24"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(
            "ngc-p01",
            client.V1Service(
                metadata=client.V1ObjectMeta(name="public"),
                spec=client.V1ServiceSpec(
                    type="LoadBalancer", ports=[client.V1ServicePort(port=80)]
                ),
            ),
        )
    assert refused.value.status == 403
    assert "services.loadbalancers" in status_of(refused.value)["message"]
    admitted = core.create_namespaced_pod("ngc-p01", pod("notebook"))
    assert admitted.spec.containers[0].resources.requests == {"cpu": "500m", "memory": "1Gi"}
