"""The Kubernetes backend's pure parts: names, quantities, the objects it sends (against the
pinned 1.37 OpenAPI schemas), and the namespace tenant of each size."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.tenancy import load_tenant_policy
from provisioner.kubernetes import manifests, quantities
from provisioner.kubernetes.desired import desired_namespace, namespace_quota
from provisioner.kubernetes.names import (
    PILOT_ANNOTATION,
    fold,
    is_dns1123_label,
    is_label_value,
    member_service_account,
    namespace_name,
    pilot_label_value,
)

# The same pin as devcloud's emulator and the dev extra (kubernetes-validate 1.37.0).
KUBERNETES_VERSION = "1.37.0"
QUANTITY_MAPS = ("hard", "default", "defaultRequest")


@pytest.fixture(scope="module")
def tpolicy():
    return load_tenant_policy()


def tenant(tpolicy, size="small", pilot_id="RH-2021-07", members=("ana.b@uni.dk",)):
    return desired_namespace(
        pilot_id=pilot_id,
        pilot_name="Rare disease WGS",
        size=size,
        end=date(2027, 6, 30),
        policy=tpolicy,
        members=members,
    )


def _quantity_values(obj, parent=""):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in QUANTITY_MAPS and isinstance(value, dict):
                yield from value.values()
            else:
                yield from _quantity_values(value, key)
    elif isinstance(obj, list):
        for item in obj:
            yield from _quantity_values(item, parent)


@pytest.mark.parametrize("size", ["small", "medium", "large", "gpu"])
def test_every_object_validates_against_the_pinned_openapi_schemas(tpolicy, size):
    objects = manifests.manifests(tenant(tpolicy, size)) + [manifests.token_request(3600)]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_name_label_and_quantity_is_what_the_api_server_accepts(tpolicy):
    for obj in manifests.manifests(tenant(tpolicy, "gpu", pilot_id="Odd_Pilot.ID 42")):
        meta = obj["metadata"]
        assert is_dns1123_label(meta["name"]), meta["name"]
        for value in meta["labels"].values():
            assert is_label_value(value), value
        for value in _quantity_values(obj):
            assert quantities.is_quantity(value), value
        if obj["kind"] == "RoleBinding":
            assert all(is_dns1123_label(s["name"]) for s in obj["subjects"])


def test_namespace_is_ngc_pilot_folded_labelled_restricted_and_annotated_with_the_exact_id(
    tpolicy,
):
    ns = manifests.namespace(tenant(tpolicy, pilot_id="RH-2021-07"))
    assert ns["metadata"]["name"] == "ngc-rh-2021-07"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns["metadata"]["labels"]["ngc-pilot.org/pilot"] == "RH-2021-07"
    assert ns["metadata"]["annotations"][PILOT_ANNOTATION] == "RH-2021-07"


def test_quota_holds_every_required_key_and_forbids_load_balancers_and_node_ports(tpolicy):
    hard = namespace_quota(tpolicy.sizes["gpu"])
    assert set(hard) == {
        "requests.cpu",
        "limits.cpu",
        "requests.memory",
        "limits.memory",
        "requests.nvidia.com/gpu",
        "requests.storage",
        "persistentvolumeclaims",
        "pods",
        "services.loadbalancers",
        "services.nodeports",
    }
    assert hard["services.loadbalancers"] == hard["services.nodeports"] == "0"
    size = tpolicy.sizes["gpu"]
    assert quantities.parse(hard["requests.cpu"]) == size.cores
    assert quantities.parse(hard["requests.memory"]) == size.ram_mb * 2**20
    assert quantities.parse(hard["requests.nvidia.com/gpu"]) == size.gpus
    assert quantities.parse(hard["requests.storage"]) == size.gigabytes * 2**30


def test_limit_range_defaults_fit_in_the_smallest_quota(tpolicy):
    t = tenant(tpolicy, "small")
    assert quantities.parse(t.limit_default_requests["cpu"]) <= quantities.parse(
        t.quota["requests.cpu"]
    )
    assert quantities.parse(t.limit_defaults["memory"]) <= quantities.parse(
        t.quota["limits.memory"]
    )


def test_role_grants_nothing_cluster_scoped_and_no_rbac_or_policy_editing(tpolicy):
    role = manifests.role(tenant(tpolicy))
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "ngc-rh-2021-07"
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"pods", "pods/log", "pods/exec", "secrets", "configmaps", "services"} <= resources
    assert {"deployments", "statefulsets", "jobs", "persistentvolumeclaims"} <= resources
    assert not resources & {
        "namespaces",
        "nodes",
        "roles",
        "rolebindings",
        "networkpolicies",
        "resourcequotas/status",
        "*",
    }
    assert all("*" not in rule["verbs"] and "*" not in rule["apiGroups"] for rule in role["rules"])


def test_binding_names_a_service_account_per_member_pi_first(tpolicy):
    t = tenant(tpolicy, members=("ana.b@uni.dk", "ANA.B@uni.dk"))
    subjects = manifests.role_binding(t)["subjects"]
    assert [s["name"] for s in subjects][0] == "pi"
    assert len(subjects) == 3  # the fold keeps e-mails differing in case apart
    assert all(s["namespace"] == t.namespace for s in subjects)


def test_network_policies_deny_all_then_allow_namespace_dns_and_the_bastion(tpolicy):
    t = tenant(tpolicy)
    by_name = {p["metadata"]["name"]: p["spec"] for p in manifests.network_policies(t)}
    deny = by_name["ngc-default-deny"]
    assert deny["podSelector"] == {} and deny["ingress"] == [] and deny["egress"] == []
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    dns = by_name["ngc-allow-dns"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    bastion = by_name["ngc-allow-bastion"]["ingress"][0]["from"][0]["ipBlock"]["cidr"]
    assert bastion == tpolicy.tenancy.ops_cidr


def test_token_expires_with_the_tenant_at_the_end_of_its_last_day(tpolicy):
    assert tenant(tpolicy).expires_at == datetime(2027, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("2Gi", Decimal(2 * 2**30)),
        ("1e3", Decimal(1000)),
        ("1.5k", Decimal(1500)),
        ("262144Mi", Decimal(2**38)),
    ],
)
def test_quantities_parse_exactly(text, value):
    assert quantities.parse(text) == value


@pytest.mark.parametrize("bad", ["", "1.2.3", "2 Gi", "Gi", "1gi", "-"])
def test_a_bad_quantity_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantities.parse(bad)


@given(st.text(min_size=1, max_size=120))
def test_any_pilot_id_folds_to_a_dns1123_namespace_and_label(pilot_id):
    assert is_dns1123_label(namespace_name(pilot_id))
    assert is_label_value(pilot_label_value(pilot_id))
    assert is_dns1123_label(member_service_account(pilot_id))


def test_fold_keeps_ids_that_differ_in_punctuation_apart():
    assert fold("a.b") != fold("a_b")
    assert fold("rh-1") == "rh-1"
    assert namespace_name("RH-1") == "ngc-rh-1"


def test_readers_are_bound_to_a_read_only_role_only_and_it_validates(tpolicy):
    t = desired_namespace(
        pilot_id="RH-2021-07",
        pilot_name="Rare disease WGS",
        size="small",
        end=date(2027, 6, 30),
        policy=tpolicy,
        members=("ana@uni.dk", "rita@uni.dk"),
        readers=("Rita@uni.dk",),
    )
    ana, rita = t.service_accounts[1:]
    objects = manifests.manifests(t)
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert [s["name"] for s in manifests.role_binding(t)["subjects"]] == ["pi", ana]
    assert [s["name"] for s in manifests.reader_binding(t)["subjects"]] == [rita]
    rules = manifests.reader_role(t)["rules"]
    assert {v for r in rules for v in r["verbs"]} == {"get", "list", "watch"}
    assert not any("secrets" in r["resources"] or "pods/exec" in r["resources"] for r in rules)
    # without readers there is no reader role or binding at all
    assert "ngc-readers" not in [
        o["metadata"]["name"] for o in manifests.manifests(tenant(tpolicy))
    ]
