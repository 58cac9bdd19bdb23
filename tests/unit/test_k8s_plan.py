"""The namespace tenant's pure plan: creates in dependency order, no-op when the cluster
matches (server-side defaults and canonical quantities included), drift repaired, foreign
namespaces refused, teardown a single namespace deletion."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from policies.tenancy import load_tenant_policy
from provisioner.backend import ForeignResourceError
from provisioner.kubernetes import manifests
from provisioner.kubernetes.desired import desired_namespace
from provisioner.kubernetes.plan import ObservedNamespace, drift, plan, plan_teardown


@pytest.fixture(scope="module")
def tenant():
    return desired_namespace(
        pilot_id="RH-2021-07",
        pilot_name="WGS",
        size="medium",
        end=date(2027, 6, 30),
        policy=load_tenant_policy(),
    )


def as_served(manifest: dict) -> dict:
    """What a real API server answers for ``manifest``: no kind in lists, extra metadata and defaults."""
    served = copy.deepcopy({k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")})
    served["metadata"].update(
        uid="u-1", resourceVersion="7", creationTimestamp="2026-12-05T00:00:00Z"
    )
    served["metadata"]["labels"]["kubernetes.io/metadata.name"] = served["metadata"]["name"]
    if manifest["kind"] == "NetworkPolicy":
        for rule in served["spec"].get("egress", []):
            for port in rule.get("ports", []):
                port.setdefault("protocol", "TCP")
        # an API server drops empty lists it stores as null
        served["spec"] = {k: v for k, v in served["spec"].items() if v != []}
    if manifest["kind"] == "ResourceQuota":
        served["spec"]["hard"]["requests.memory"] = "1Ti"  # canonical form of 1048576Mi
    return served


def observed_from(tenant, *, skip=()) -> ObservedNamespace:
    objects = {}
    namespace = None
    for m in manifests.manifests(tenant):
        if (m["kind"], m["metadata"]["name"]) in skip:
            continue
        if m["kind"] == "Namespace":
            namespace = as_served(m)
        else:
            objects[(m["kind"], m["metadata"]["name"])] = as_served(m)
    return ObservedNamespace(namespace, tenant.pilot_id, objects)


def test_nothing_observed_plans_every_object_in_dependency_order(tenant):
    steps = [c.step for c in plan(tenant, ObservedNamespace()).changes]
    assert steps[0] == "create namespace ngc-rh-2021-07"
    assert steps.index("create role ngc-researcher") < steps.index(
        "create role_binding ngc-researchers"
    )
    assert steps.index("create service_account pi") < steps.index(
        "create role_binding ngc-researchers"
    )
    assert steps[-1] == "create network_policy ngc-allow-bastion"
    assert len(steps) == len(manifests.manifests(tenant))


def test_a_matching_cluster_with_server_defaults_plans_nothing(tenant):
    assert plan(tenant, observed_from(tenant)).empty


def test_a_missing_token_is_requested_for_the_pi_with_the_tenant_end(tenant):
    changes = plan(tenant, observed_from(tenant), credential_delivered=False).changes
    assert [c.step for c in changes] == ["create service_account_token pi"]
    assert changes[0].detail["expires_at"] == "2027-07-01T00:00:00+00:00"


def test_a_deleted_network_policy_is_recreated(tenant):
    observed = observed_from(tenant, skip={("NetworkPolicy", "ngc-default-deny")})
    assert [c.step for c in plan(tenant, observed).changes] == [
        "create network_policy ngc-default-deny"
    ]


def test_a_loosened_default_deny_is_drift(tenant):
    observed = observed_from(tenant)
    observed.objects[("NetworkPolicy", "ngc-default-deny")]["spec"]["ingress"] = [{}]
    (change,) = plan(tenant, observed).changes
    assert (change.action, change.resource, change.name) == (
        "update",
        "network_policy",
        "ngc-default-deny",
    )
    assert change.detail["drift"] == ["spec.ingress"]


def test_a_changed_quota_is_drift_naming_the_key(tenant):
    observed = observed_from(tenant)
    observed.objects[("ResourceQuota", "ngc-quota")]["spec"]["hard"]["requests.cpu"] = "9999"
    (change,) = plan(tenant, observed).changes
    assert change.step == "update resource_quota ngc-quota"
    assert change.detail["drift"] == ["spec.hard.requests.cpu"]


def test_an_extra_role_binding_is_deleted(tenant):
    observed = observed_from(tenant)
    extra = copy.deepcopy(observed.objects[("RoleBinding", "ngc-researchers")])
    extra["metadata"]["name"] = "let-me-in"
    observed.objects[("RoleBinding", "let-me-in")] = extra
    (change,) = plan(tenant, observed).changes
    assert change.step == "delete role_binding let-me-in"


def test_a_namespace_of_another_pilot_is_refused_untouched(tenant):
    foreign = ObservedNamespace({"metadata": {"name": tenant.namespace, "uid": "u-9"}}, "RH-9")
    with pytest.raises(ForeignResourceError, match="pilot RH-9's"):
        plan(tenant, foreign)
    with pytest.raises(ForeignResourceError):
        plan_teardown(tenant, foreign)


def test_an_unclaimed_namespace_is_refused_too(tenant):
    with pytest.raises(ForeignResourceError, match="not tagged as any pilot's"):
        plan(tenant, ObservedNamespace({"metadata": {"name": tenant.namespace}}, None))


def test_teardown_is_one_namespace_deletion_and_nothing_when_gone(tenant):
    assert [c.step for c in plan_teardown(tenant, observed_from(tenant)).changes] == [
        "delete namespace ngc-rh-2021-07"
    ]
    assert plan_teardown(tenant, ObservedNamespace()).empty


def test_drift_compares_quantities_as_numbers_only_in_quantity_maps():
    assert drift({"hard": {"memory": "1024Mi"}}, {"hard": {"memory": "1Gi"}}) == []
    assert drift({"name": "1024Mi"}, {"name": "1Gi"}) == ["name"]


def test_a_removed_pod_security_label_is_namespace_drift(tenant):
    observed = observed_from(tenant)
    del observed.namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
    (change,) = plan(tenant, observed).changes
    assert change.step == "update namespace ngc-rh-2021-07"
    assert change.detail["drift"] == ["metadata.labels.pod-security.kubernetes.io/enforce"]


def test_a_widened_role_is_drift(tenant):
    observed = observed_from(tenant)
    rules = observed.objects[("Role", "ngc-researcher")]["rules"]
    rules.append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    (change,) = plan(tenant, observed).changes
    assert change.step == "update role ngc-researcher"


def _with_members(*emails: str):
    return desired_namespace(
        pilot_id="RH-2021-07",
        pilot_name="WGS",
        size="medium",
        end=date(2027, 6, 30),
        policy=load_tenant_policy(),
        members=emails,
    )


def test_each_member_has_their_own_account_in_the_binding_and_gets_their_own_token():
    tenant = _with_members("Ann@Example.org", "bo@example.org")
    ann, bo = tenant.service_accounts[1:]
    assert tenant.member_of(ann) == "ann@example.org" and tenant.member_of("pi") is None
    subjects = [s["name"] for s in manifests.role_binding(tenant)["subjects"]]
    assert subjects == ["pi", ann, bo]
    changes = plan(tenant, observed_from(tenant), member_tokens=(bo,)).changes
    assert [c.step for c in changes] == [f"create service_account_token {bo}"]
    assert changes[0].detail["expires_at"] == "2027-07-01T00:00:00+00:00"


def test_a_removed_members_account_is_deleted_after_the_binding_drops_them():
    before = _with_members("ann@example.org", "bo@example.org")
    after = _with_members("bo@example.org")
    observed = observed_from(before)
    default = {"metadata": {"name": "default", "namespace": before.namespace}}
    observed.objects[("ServiceAccount", "default")] = default  # the cluster's own: kept
    steps = [c.step for c in plan(after, observed).changes]
    ann = before.service_accounts[1]
    assert steps == ["update role_binding ngc-researchers", f"delete service_account {ann}"]
