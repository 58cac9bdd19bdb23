"""The step handlers of the Kubernetes backend and the table that dispatches to them.

:data:`STEPS` maps each ``(action, resource)`` a namespace plan can hold to
the one function that performs it, in the shape of
``provisioner.openstack.steps.STEPS``.  Objects are rebuilt from the tenant
(``manifests``) at the moment of the step, so a plan stays small and readable.

Updates replace the whole object for the kinds ngc-pilot alone writes (quota,
limits, role, binding, network policies), so a loosened field is put back;
the namespace and service accounts are merge-patched (labels and annotations
only), keeping what the control plane adds to them.

What this module deliberately does not do: translate client errors (the
backend does, around each call) or decide what to change (``plan``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from provisioner.backend import CloudError, ForeignResourceError, StepResult
from provisioner.kubernetes import manifests
from provisioner.kubernetes.connection import MERGE_PATCH, Cluster
from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.kubernetes.kinds import KINDS
from provisioner.kubernetes.observe import owner, read_namespace
from provisioner.model import Change
from provisioner.secrets import Secret

Handler = Callable[[Cluster, Change, NamespaceTenant], StepResult]

MIN_TOKEN_SECONDS = 600  # the TokenRequest API's minimum
NAMESPACE_GONE_TIMEOUT = 300.0  # seconds a real cluster may take to finalize a namespace


def _manifest(tenant: NamespaceTenant, change: Change) -> manifests.Manifest:
    kind = change.detail.get("kind")
    for manifest in manifests.manifests(tenant):
        if manifest["kind"] == kind and manifest["metadata"]["name"] == change.name:
            return manifest
    raise CloudError(f"{change.step}: the tenant has no {kind} {change.name}")


def _ensure_owned(cluster: Cluster, tenant: NamespaceTenant, step: str) -> dict | None:
    namespace = read_namespace(cluster, tenant.namespace)
    if namespace is not None and owner(namespace) != tenant.pilot_id:
        uid = str(namespace.get("metadata", {}).get("uid", "?"))
        raise ForeignResourceError(
            step, "namespace", tenant.namespace, uid, owner(namespace), tenant.pilot_id
        )
    return namespace


def create_namespace(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    created = cluster.core().create_namespace(manifests.namespace(tenant))
    return StepResult(resource_id=created.metadata.uid)


def update_namespace(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    _ensure_owned(cluster, tenant, change.step)
    meta = manifests.namespace(tenant)["metadata"]
    patch = {"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}}
    cluster.core().patch_namespace(tenant.namespace, patch, _content_type=MERGE_PATCH)
    return StepResult()


def delete_namespace(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    """Delete the namespace and wait until the cluster has removed it (and all inside)."""
    namespace = _ensure_owned(cluster, tenant, change.step)
    if namespace is None:
        return StepResult()
    cluster.core().delete_namespace(tenant.namespace)
    deadline = time.monotonic() + NAMESPACE_GONE_TIMEOUT
    while read_namespace(cluster, tenant.namespace) is not None:
        if time.monotonic() > deadline:
            raise CloudError(
                f"{change.step}: namespace still terminating after {NAMESPACE_GONE_TIMEOUT:g} s",
                transient=True,
            )
        time.sleep(0.2)
    return StepResult(resource_id=namespace.get("metadata", {}).get("uid"))


def create_object(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    manifest = _manifest(tenant, change)
    created = KINDS[manifest["kind"]].create(cluster, tenant.namespace, manifest)
    return StepResult(resource_id=created.metadata.uid)


def replace_object(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    manifest = _manifest(tenant, change)
    KINDS[manifest["kind"]].replace(cluster, tenant.namespace, change.name, manifest)
    return StepResult()


def patch_metadata(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    manifest = _manifest(tenant, change)
    meta = manifest["metadata"]
    patch = {"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}}
    KINDS[manifest["kind"]].patch(cluster, tenant.namespace, change.name, patch)
    return StepResult()


def delete_object(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    KINDS[change.detail["kind"]].delete(cluster, tenant.namespace, change.name)
    return StepResult()


def create_token(cluster: Cluster, change: Change, tenant: NamespaceTenant) -> StepResult:
    """A TokenRequest token for ``change.name`` (the PI's or a member's service account)
    that expires with the tenant."""
    seconds = int((tenant.expires_at - datetime.now(UTC)).total_seconds())
    if seconds < MIN_TOKEN_SECONDS:
        raise CloudError(
            f"{change.step}: the tenant's access ends at {tenant.expires_at.isoformat()}, "
            f"less than {MIN_TOKEN_SECONDS} s from now; no token is issued"
        )
    answer = cluster.core().create_namespaced_service_account_token(
        change.name, tenant.namespace, manifests.token_request(seconds)
    )
    expires = answer.status.expiration_timestamp
    return StepResult(
        resource_id=f"{tenant.namespace}/{change.name}",
        secret=Secret(answer.status.token),
        extra={
            "service_account": change.name,
            "namespace": tenant.namespace,
            "expires_at": expires.isoformat() if expires else tenant.expires_at.isoformat(),
        },
    )


STEPS: dict[tuple[str, str], Handler] = {
    ("create", "namespace"): create_namespace,
    ("update", "namespace"): update_namespace,
    ("delete", "namespace"): delete_namespace,
    ("create", "resource_quota"): create_object,
    ("update", "resource_quota"): replace_object,
    ("create", "limit_range"): create_object,
    ("update", "limit_range"): replace_object,
    ("create", "service_account"): create_object,
    ("update", "service_account"): patch_metadata,
    ("delete", "service_account"): delete_object,
    ("create", "role"): create_object,
    ("update", "role"): replace_object,
    ("create", "role_binding"): create_object,
    ("update", "role_binding"): replace_object,
    ("delete", "role_binding"): delete_object,
    ("create", "network_policy"): create_object,
    ("update", "network_policy"): replace_object,
    ("delete", "network_policy"): delete_object,
    ("create", "service_account_token"): create_token,
}
