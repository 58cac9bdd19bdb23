"""The requests that are not plain object storage: TokenRequest, access reviews, pod log
and exec, discovery, and the emulator's own finished-pods listing for metering.

``finishedpods`` (``/apis/emulator.devcloud/v1/[namespaces/NS/]finishedpods``, admin
only) is not a Kubernetes API: it returns a PodList of deleted pods with their
``startTime`` and ``metadata.deletionTimestamp`` (the end), which a real cluster
forgets. Exec and log answer as a node without containers would.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

from . import errors, rbac, validation
from .resources import BY_PATH, RESOURCES, Target
from .store import Store
from .tokens import ServiceAccountIdentity, TokenSigner

SERVICE_ACCOUNTS = BY_PATH[("", "v1", "serviceaccounts")]
DEFAULT_TOKEN_SECONDS = 3600
MIN_TOKEN_SECONDS = 600
EMULATOR_GROUP = "emulator.devcloud"


def _invalid_if(problems, kind: str, group: str, name: str) -> None:
    if problems:
        raise errors.invalid(kind, group, name, problems)


def token_request(store: Store, signer: TokenSigner, target: Target, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    body.setdefault("apiVersion", "authentication.k8s.io/v1")
    body.setdefault("kind", "TokenRequest")
    body.setdefault("metadata", {})
    body.setdefault("spec", {})
    body["spec"].setdefault("audiences", [])
    _invalid_if(
        validation.schema_problems(body, "TokenRequest", "authentication.k8s.io/v1"),
        "TokenRequest",
        "authentication.k8s.io",
        target.name or "",
    )
    seconds = body["spec"].get("expirationSeconds") or DEFAULT_TOKEN_SECONDS
    if seconds < MIN_TOKEN_SECONDS:
        raise errors.invalid(
            "TokenRequest",
            "authentication.k8s.io",
            target.name or "",
            [
                (
                    "spec.expirationSeconds",
                    "Invalid value: may not specify a duration less than 10 minutes",
                )
            ],
        )
    sa = store.get(SERVICE_ACCOUNTS, target.namespace, target.name)
    identity = ServiceAccountIdentity(target.namespace, target.name, sa["metadata"]["uid"])
    expires = int(time.time()) + int(seconds)
    token = signer.issue(identity, expires, body["spec"]["audiences"])
    body["metadata"].update({"name": target.name, "namespace": target.namespace})
    body["spec"]["expirationSeconds"] = seconds
    body["status"] = {
        "token": token,
        "expirationTimestamp": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return body


def access_review(
    store: Store, requester: ServiceAccountIdentity | None, body: Any
) -> dict[str, Any]:
    """SelfSubjectAccessReview: would the caller be allowed the described request?"""
    spec = body.get("spec") or {}
    attrs = spec.get("resourceAttributes")
    if requester is None:
        allowed, reason = True, "the admin token is allowed everything"
    elif attrs:
        resource = attrs.get("resource", "")
        allowed, reason = rbac.allowed(
            store,
            requester,
            rbac.Attributes(
                verb=attrs.get("verb", ""),
                group=attrs.get("group", ""),
                resource=resource,
                subresource=attrs.get("subresource") or None,
                namespace=attrs.get("namespace") or None,
                name=attrs.get("name") or None,
            ),
        )
    else:
        allowed, reason = False, "non-resource URLs are not reviewed by the emulator"
    body["status"] = {"allowed": allowed, "reason": reason} if reason else {"allowed": allowed}
    return body


def finished_pods(store: Store, namespace: str | None) -> dict[str, Any]:
    with store.lock:
        items = [
            copy.deepcopy(p)
            for p in store.finished_pods
            if namespace is None or p["metadata"].get("namespace") == namespace
        ]
        revision = str(store.revision)
    return {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": revision},
        "items": items,
    }


def finished_pods_namespace(path: str) -> tuple[bool, str | None]:
    """(is it the finished-pods path, its namespace or None)."""
    parts = [p for p in path.split("/") if p]
    if parts == ["apis", EMULATOR_GROUP, "v1", "finishedpods"]:
        return True, None
    if (
        len(parts) == 6
        and parts[:4] == ["apis", EMULATOR_GROUP, "v1", "namespaces"]
        and parts[5] == "finishedpods"
    ):
        return True, parts[4]
    return False, None


def discovery(path: str) -> dict[str, Any] | None:
    """/version, /api, /apis and the per-group resource lists; None for other paths."""
    parts = [p for p in path.split("/") if p]
    if parts == ["version"]:
        return {
            "major": "1",
            "minor": "37",
            "gitVersion": "v1.37.0-devcloud-emulator",
            "platform": "linux/amd64",
        }
    if parts == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    groups = sorted({r.group for r in RESOURCES if r.group})
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                }
                for g in groups
            ],
        }
    if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis" and parts[1] in groups):
        group = "" if parts[0] == "api" else parts[1]
        listed = []
        for r in RESOURCES:
            if r.group != group:
                continue
            listed.append(
                {
                    "name": r.plural,
                    "singularName": r.singular,
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": list(r.verbs),
                }
            )
            for sub in r.subresources:
                listed.append(
                    {
                        "name": f"{r.plural}/{sub}",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["get", "create"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/v1" if group else "v1",
            "resources": listed,
        }
    return None
