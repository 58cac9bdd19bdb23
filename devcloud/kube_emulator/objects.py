"""The verbs on stored objects: create, replace, patch, delete, list, with their side effects.

Each write fills what the API server fills (kind and apiVersion from the
path, namespace, generated names), validates the result against the pinned
schemas, runs admission for pods and claims, and gives objects their server
side status (namespaces Active, pods bound to a node and Running with a
startTime, or Pending if no node has room; claims Bound; quota usage).
Deleting a namespace removes everything in it at once.

Not emulated: graceful deletion and finalizers (deletion is immediate),
immutability of pod specs, ownerReferences garbage collection, dry-run.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from . import admission, errors, patching, scheduling, selectors, validation
from .resources import BY_PATH, Resource, Target
from .seed import PROTECTED_NAMESPACES
from .store import Store, now

NAMESPACES = BY_PATH[("", "v1", "namespaces")]
rbac_group = "rbac.authorization.k8s.io"
SERVICE_ACCOUNTS = BY_PATH[("", "v1", "serviceaccounts")]


def _check_identity(resource: Resource, target: Target, body: Any) -> dict[str, Any]:
    """Fill kind, apiVersion and namespace from the path; refuse contradictions (400)."""
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    body.setdefault("apiVersion", resource.api_version)
    body.setdefault("kind", resource.kind)
    if (body["apiVersion"], body["kind"]) != (resource.api_version, resource.kind):
        raise errors.bad_request(
            f"the API version in the data ({body['apiVersion']}) and kind ({body['kind']}) do "
            f"not match the request ({resource.api_version} {resource.kind})"
        )
    meta = body.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    if resource.namespaced:
        if meta.get("namespace") and meta["namespace"] != target.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = target.namespace
    else:
        meta.pop("namespace", None)
    if target.name is not None and meta.get("name") and meta["name"] != target.name:
        raise errors.bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL "
            f"({target.name})"
        )
    if target.name is not None:
        meta.setdefault("name", target.name)
    return body


def _validate(resource: Resource, body: dict[str, Any]) -> None:
    found = validation.problems(body, resource)
    if found:
        name = body.get("metadata", {}).get("name") or body.get("metadata", {}).get(
            "generateName", ""
        )
        raise errors.invalid(resource.kind, resource.group, name, found)


def _require_namespace(store: Store, namespace: str | None) -> None:
    if namespace is not None and store.find(NAMESPACES, None, namespace) is None:
        raise errors.not_found("namespaces", "", namespace)


def _pod_status(pod: dict[str, Any]) -> dict[str, Any]:
    started = now()
    return {
        "phase": "Running",
        "startTime": started,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": started}},
            }
            for c in (pod.get("spec") or {}).get("containers") or []
        ],
        "qosClass": "Burstable",
    }


def _finish_if_terminal(status: dict[str, Any]) -> None:
    """A pod set Succeeded/Failed through its status gets its containers' finishedAt."""
    if status.get("phase") not in ("Succeeded", "Failed"):
        return
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" not in state:
            started = (state.get("running") or {}).get("startedAt") or status.get("startTime")
            cs["state"] = {
                "terminated": {
                    "exitCode": 0 if status["phase"] == "Succeeded" else 1,
                    "reason": "Completed" if status["phase"] == "Succeeded" else "Error",
                    "startedAt": started,
                    "finishedAt": now(),
                }
            }
            cs["ready"] = False


def with_status(store: Store, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as readers see it (ResourceQuota usage is computed on read)."""
    if resource is admission.QUOTAS:
        obj["status"] = admission.quota_status(store, obj)
    return obj


def create(store: Store, target: Target, body: Any) -> dict[str, Any]:
    resource = target.resource
    obj = _check_identity(resource, target, body)
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
    for server_field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
        meta.pop(server_field, None)
    _validate(resource, obj)
    with store.lock:
        _require_namespace(store, target.namespace if resource.namespaced else None)
        if resource is admission.PODS:
            admission.apply_limit_range_defaults(store, obj, target.namespace)
            _validate(resource, obj)
            admission.check_quota(store, resource, obj, target.namespace)
            node = obj["spec"].get("nodeName") or scheduling.choose_node(store, obj)
            if node is None:
                nodes = len(store.list(scheduling.NODES, None))
                obj["status"] = scheduling.unschedulable_status(
                    f"0/{nodes} nodes are available: insufficient cpu, memory or nvidia.com/gpu"
                )
            else:
                obj["spec"]["nodeName"] = node
                obj["status"] = _pod_status(obj)
        elif resource.namespaced:
            admission.check_quota(store, resource, obj, target.namespace)
        if resource is NAMESPACES:
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif resource is admission.CLAIMS:
            storage = obj["spec"].get("resources", {}).get("requests", {}).get("storage", "0")
            obj["status"] = {
                "phase": "Bound",
                "accessModes": obj["spec"].get("accessModes", []),
                "capacity": {"storage": storage},
            }
        elif resource is admission.QUOTAS:
            obj.pop("status", None)
        created = store.create(resource, obj)
        if resource is NAMESPACES:
            store.create(
                SERVICE_ACCOUNTS,
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": meta["name"]},
                },
            )
        return with_status(store, resource, created)


def _merge_into_current(
    resource: Resource, current: dict[str, Any], new: dict[str, Any], subresource: str | None
) -> dict[str, Any]:
    """A write to ``status`` changes only status; a write to the object never changes status."""
    if subresource == "status":
        result = copy.deepcopy(current)
        result["status"] = new.get("status", {})
        result["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
        if resource is admission.PODS:
            _finish_if_terminal(result["status"])
        return result
    if "status" in current:
        new["status"] = current["status"]
    return new


def replace(store: Store, target: Target, body: Any) -> dict[str, Any]:
    resource = target.resource
    obj = _check_identity(resource, target, body)
    _validate(resource, obj)
    with store.lock:
        current = store.get(resource, target.namespace, target.name)
        merged = _merge_into_current(resource, current, obj, target.subresource)
        return with_status(store, resource, store.replace(resource, merged))


def patch(store: Store, target: Target, content_type: str, body: Any) -> dict[str, Any]:
    resource = target.resource
    with store.lock:
        current = store.get(resource, target.namespace, target.name)
        patched = patching.apply(content_type, current, body)
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise errors.bad_request("the patch leaves no object")
        if (patched["metadata"].get("name"), patched["metadata"].get("namespace")) != (
            current["metadata"]["name"],
            current["metadata"].get("namespace"),
        ):
            raise errors.bad_request("a patch may not change the object's name or namespace")
        _check_identity(resource, target, patched)
        _validate(resource, patched)
        merged = _merge_into_current(resource, current, patched, target.subresource)
        return with_status(store, resource, store.replace(resource, merged))


def delete(store: Store, target: Target) -> dict[str, Any]:
    resource = target.resource
    with store.lock:
        if resource is NAMESPACES:
            if target.name in PROTECTED_NAMESPACES:
                raise errors.forbidden(
                    "namespaces", "", target.name, "this namespace may not be deleted"
                )
            store.get(resource, None, target.name)
            store.delete_namespace_contents(target.name)
        obj = store.delete(resource, target.namespace, target.name)
    if resource.group == rbac_group:
        # as the API server: RBAC objects answer a Status, the others the deleted object
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": target.name,
                "group": resource.group,
                "kind": resource.plural,
                "uid": obj["metadata"]["uid"],
            },
        }
    obj["metadata"].setdefault("deletionTimestamp", now())
    obj["metadata"]["deletionGracePeriodSeconds"] = 0
    if resource is NAMESPACES:
        obj["status"] = {"phase": "Terminating"}
    return with_status(store, resource, obj)


def list_objects(store: Store, target: Target, query: dict[str, str]) -> dict[str, Any]:
    resource = target.resource
    with store.lock:
        items = [
            with_status(store, resource, obj)
            for obj in store.list(resource, target.namespace)
            if selectors.label_match(query.get("labelSelector"), obj)
            and selectors.field_match(query.get("fieldSelector"), obj)
        ]
        revision = str(store.revision)
    return {
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": revision},
        "items": items,
    }


def delete_collection(store: Store, target: Target, query: dict[str, str]) -> dict[str, Any]:
    """Delete what the selectors match; answers the list of deleted objects, as the API server."""
    listed = list_objects(store, target, query)
    for obj in listed["items"]:
        namespace = obj["metadata"].get("namespace") if target.resource.namespaced else None
        delete(store, Target(target.resource, namespace, obj["metadata"]["name"], None))
    return listed
