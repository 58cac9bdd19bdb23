"""What a cluster has for a pilot: its namespace, whose it is, and every object in it we manage.

The namespace is read first; when it carries another pilot's id (or none),
nothing in it is read — the plan refuses it anyway.  Otherwise one list call
per kind gathers every object of that kind in the namespace (ours and any
others, so the plan can see a RoleBinding that is not ours).

What this module deliberately does not do: compare anything (``plan``) or
change anything (``steps``).
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.rest import ApiException

from provisioner.kubernetes.connection import Cluster
from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.kubernetes.kinds import KINDS
from provisioner.kubernetes.names import PILOT_ANNOTATION
from provisioner.kubernetes.plan import ObservedNamespace


def as_dict(cluster: Cluster, obj: Any) -> dict[str, Any]:
    """A client model as the API's JSON dictionary (camelCase keys, no None values)."""
    return cluster.api.sanitize_for_serialization(obj)


def read_namespace(cluster: Cluster, name: str) -> dict[str, Any] | None:
    try:
        return as_dict(cluster, cluster.core().read_namespace(name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def owner(namespace: dict[str, Any]) -> str | None:
    return ((namespace.get("metadata") or {}).get("annotations") or {}).get(PILOT_ANNOTATION)


def observe(cluster: Cluster, tenant: NamespaceTenant) -> ObservedNamespace:
    namespace = read_namespace(cluster, tenant.namespace)
    if namespace is None:
        return ObservedNamespace()
    who = owner(namespace)
    if who != tenant.pilot_id:
        return ObservedNamespace(namespace, who)
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, calls in KINDS.items():
        for item in calls.list(cluster, tenant.namespace).items:
            found = as_dict(cluster, item)
            objects[(kind, found["metadata"]["name"])] = found
    return ObservedNamespace(namespace, who, objects)


def leftovers(cluster: Cluster, tenant: NamespaceTenant) -> list[str]:
    """What of the pilot is still in the cluster (empty = clean)."""
    namespace = read_namespace(cluster, tenant.namespace)
    return [f"namespace {tenant.namespace}"] if namespace is not None else []
