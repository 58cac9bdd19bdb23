"""Admission for pods and claims: LimitRange defaults, then ResourceQuota.

LimitRanger first fills a container's missing requests and limits from the
namespace's LimitRange (``defaultRequest``, ``default``; a request defaults to
its limit), then every ResourceQuota in the namespace is checked: usage of the
pods and claims already there plus the new one must stay within ``hard``, and
a quota on a resource the new pod does not request refuses it, as the API
server does. Usage is computed from the objects on every call, so it is never
stale; ``quota_status`` gives it to readers of a ResourceQuota.

Not emulated: LimitRange min/max/ratio enforcement, quota scopes and scope
selectors, and object-count quotas other than those listed in ``_COUNTED``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import errors, quantity
from .resources import BY_PATH, Resource
from .store import Store

PODS = BY_PATH[("", "v1", "pods")]
CLAIMS = BY_PATH[("", "v1", "persistentvolumeclaims")]
QUOTAS = BY_PATH[("", "v1", "resourcequotas")]
LIMIT_RANGES = BY_PATH[("", "v1", "limitranges")]
_COUNTED = {
    "pods": ("", "pods"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"),
    "services": ("", "services"),
    "configmaps": ("", "configmaps"),
    "secrets": ("", "secrets"),
    "count/pods": ("", "pods"),
    "count/persistentvolumeclaims": ("", "persistentvolumeclaims"),
}


_MUST_SPECIFY = {
    f"{kind}{name}"
    for kind in ("", "requests.", "limits.")
    for name in ("cpu", "memory", "ephemeral-storage")
} - {"ephemeral-storage"}


def apply_limit_range_defaults(store: Store, pod: dict[str, Any], namespace: str) -> None:
    ranges = store.list(LIMIT_RANGES, namespace)
    items = [i for lr in ranges for i in (lr.get("spec") or {}).get("limits") or []]
    container_items = [i for i in items if i.get("type") == "Container"]
    for container in (pod.get("spec") or {}).get("containers") or []:
        res = container.setdefault("resources", {})
        for item in container_items:
            for name, value in (item.get("default") or {}).items():
                res.setdefault("limits", {}).setdefault(name, value)
            for name, value in (item.get("defaultRequest") or {}).items():
                res.setdefault("requests", {}).setdefault(name, value)
        for name, value in (res.get("limits") or {}).items():
            res.setdefault("requests", {}).setdefault(name, value)
        if not res:
            container.pop("resources")


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_usage(pod: dict[str, Any]) -> dict[str, Decimal]:
    """requests.X and limits.X of one pod (init containers count at their maximum)."""
    spec = pod.get("spec") or {}
    usage: dict[str, Decimal] = {}
    for kind in ("requests", "limits"):
        total: dict[str, Decimal] = {}
        for c in spec.get("containers") or []:
            for name, value in ((c.get("resources") or {}).get(kind) or {}).items():
                total[name] = total.get(name, Decimal(0)) + quantity.parse(value)
        for c in spec.get("initContainers") or []:
            for name, value in ((c.get("resources") or {}).get(kind) or {}).items():
                total[name] = max(total.get(name, Decimal(0)), quantity.parse(value))
        for name, value in total.items():
            usage[f"{kind}.{name}"] = value
            if kind == "requests" and name in ("cpu", "memory"):
                usage[name] = value
    usage["pods"] = usage["count/pods"] = Decimal(1)
    return usage


def claim_usage(claim: dict[str, Any]) -> dict[str, Decimal]:
    storage = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
        "storage", 0
    )
    return {
        "requests.storage": quantity.parse(storage),
        "persistentvolumeclaims": Decimal(1),
        "count/persistentvolumeclaims": Decimal(1),
    }


def _usage_of(resource: Resource, obj: dict[str, Any]) -> dict[str, Decimal]:
    if resource is PODS:
        return pod_usage(obj)
    if resource is CLAIMS:
        return claim_usage(obj)
    usage = {}
    for key, (group, plural) in _COUNTED.items():
        if (resource.group, resource.plural) == (group, plural):
            usage[key] = Decimal(1)
    if resource.plural == "services" and not resource.group:
        kind = (obj.get("spec") or {}).get("type")
        if kind == "LoadBalancer":
            usage["services.loadbalancers"] = Decimal(1)
        if kind in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Decimal(1)
    return usage


def namespace_usage(store: Store, namespace: str) -> dict[str, Decimal]:
    used: dict[str, Decimal] = {}
    for resource in {PODS, CLAIMS, *(BY_PATH[("", "v1", p)] for _, p in _COUNTED.values())}:
        for obj in store.list(resource, namespace):
            if resource is PODS and _terminal(obj):
                continue
            for key, value in _usage_of(resource, obj).items():
                used[key] = used.get(key, Decimal(0)) + value
    return used


def quota_status(store: Store, quota: dict[str, Any]) -> dict[str, Any]:
    hard = (quota.get("spec") or {}).get("hard") or {}
    used = namespace_usage(store, quota["metadata"]["namespace"])
    return {
        "hard": dict(hard),
        "used": {key: quantity.fmt(used.get(key, Decimal(0))) for key in hard},
    }


def check_quota(store: Store, resource: Resource, obj: dict[str, Any], namespace: str) -> None:
    """Raise 403 Forbidden if creating ``obj`` would exceed any ResourceQuota in ``namespace``."""
    quotas = store.list(QUOTAS, namespace)
    if not quotas:
        return
    wanted = _usage_of(resource, obj)
    if not wanted:
        return
    used = namespace_usage(store, namespace)
    name = obj["metadata"].get("name", "")
    for q in quotas:
        hard = (q.get("spec") or {}).get("hard") or {}
        qname = q["metadata"]["name"]
        if resource is PODS:
            # as the API server: only compute resources must be named, not extended ones (GPUs)
            missing = [k for k in hard if k in _MUST_SPECIFY and k not in wanted]
            if missing:
                raise errors.forbidden(
                    resource.plural,
                    resource.group,
                    name,
                    f"failed quota: {qname}: must specify {','.join(sorted(missing))}",
                )
        over = [
            key
            for key, limit in hard.items()
            if key in wanted and used.get(key, Decimal(0)) + wanted[key] > quantity.parse(limit)
        ]
        if over:
            over.sort()
            req = ",".join(f"{k}={quantity.fmt(wanted[k])}" for k in over)
            use = ",".join(f"{k}={quantity.fmt(used.get(k, Decimal(0)))}" for k in over)
            lim = ",".join(f"{k}={hard[k]}" for k in over)
            raise errors.forbidden(
                resource.plural,
                resource.group,
                name,
                f"exceeded quota: {qname}, requested: {req}, used: {use}, limited: {lim}",
            )
