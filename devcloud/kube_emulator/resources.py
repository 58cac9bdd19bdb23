"""The resource types the emulator serves and how a request path names one.

A table, not a discovery service: each entry says the group, version, plural,
kind, whether it is namespaced and which subresources exist. Anything not in
the table answers 404, as an API server without that resource would.
"""

from __future__ import annotations

from dataclasses import dataclass

# How object names are checked (the API server's rule per resource).
SUBDOMAIN = "dns1123-subdomain"
LABEL = "dns1123-label"
PATH_SEGMENT = "path-segment"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    names: str = SUBDOMAIN
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("get", "list", "create", "update", "patch", "delete")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.plural[:-1] if self.plural.endswith("s") else self.plural


RBAC = "rbac.authorization.k8s.io"
RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, LABEL, ("status",)),
    Resource("", "v1", "nodes", "Node", False, SUBDOMAIN, ("status",)),
    Resource("", "v1", "resourcequotas", "ResourceQuota", True, SUBDOMAIN, ("status",)),
    Resource("", "v1", "limitranges", "LimitRange", True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, SUBDOMAIN, ("token",)),
    Resource("", "v1", "pods", "Pod", True, SUBDOMAIN, ("status", "log", "exec")),
    Resource(
        "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, SUBDOMAIN, ("status",)
    ),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "services", "Service", True, LABEL, ("status",)),
    Resource(RBAC, "v1", "roles", "Role", True, PATH_SEGMENT),
    Resource(RBAC, "v1", "rolebindings", "RoleBinding", True, PATH_SEGMENT),
    Resource(RBAC, "v1", "clusterroles", "ClusterRole", False, PATH_SEGMENT),
    Resource(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False, PATH_SEGMENT),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    Resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
]

BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


@dataclass(frozen=True)
class Target:
    """What a resource request addresses: the collection, or one object, or its subresource."""

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


class NotFoundPath(Exception):
    pass


def parse_path(path: str) -> Target:
    """``/api/v1/namespaces/ns/pods/p/log`` -> Target(pods, "ns", "p", "log")."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise NotFoundPath(path)
    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and (group, version, rest[2]) in BY_PATH
        and BY_PATH[(group, version, rest[2])].namespaced
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3 or (group, version, rest[0]) not in BY_PATH:
        raise NotFoundPath(path)
    resource = BY_PATH[(group, version, rest[0])]
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and sub not in resource.subresources:
        raise NotFoundPath(path)
    return Target(resource, namespace, name, sub)
