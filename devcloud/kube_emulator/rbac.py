"""RBAC as the API server evaluates it for one request: allow if any bound rule matches.

Subjects are service accounts (from TokenRequest tokens) and their groups;
rules come from RoleBindings in the request's namespace (to a Role there or a
ClusterRole) and from ClusterRoleBindings. A rule matches on verb, API group,
resource (``pods``, ``pods/log``, ``*``, ``*/log``) and resource names. The
admin token is not evaluated here: it is allowed everything before this runs.

It does not do aggregated ClusterRoles, ``escalate``/``bind`` checks on
writing roles, or impersonation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .resources import BY_PATH, RBAC
from .store import Store
from .tokens import ServiceAccountIdentity

ROLES = BY_PATH[(RBAC, "v1", "roles")]
ROLE_BINDINGS = BY_PATH[(RBAC, "v1", "rolebindings")]
CLUSTER_ROLES = BY_PATH[(RBAC, "v1", "clusterroles")]
CLUSTER_ROLE_BINDINGS = BY_PATH[(RBAC, "v1", "clusterrolebindings")]

# What every authenticated user may do (the API server's system:basic-user and discovery).
BASIC_RULES = [
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        "verbs": ["create"],
    }
]


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str  # plural
    subresource: str | None
    namespace: str | None
    name: str | None


def _matches(values: Iterable[str], wanted: str) -> bool:
    return any(v == "*" or v == wanted for v in values)


def _resource_matches(resources: Iterable[str], attrs: Attributes) -> bool:
    full = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for r in resources:
        if r == "*" or r == full:
            return True
        if attrs.subresource and r == f"*/{attrs.subresource}":
            return True
    return False


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    if not _matches(rule.get("verbs") or [], attrs.verb):
        return False
    if not _matches(rule.get("apiGroups") or [], attrs.group):
        return False
    if not _resource_matches(rule.get("resources") or [], attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or (attrs.name is not None and attrs.name in names)


def _subject_matches(subject: dict[str, Any], sa: ServiceAccountIdentity, binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return subject.get("name") == sa.name and ns == sa.namespace
    if kind == "User":
        return subject.get("name") == sa.username
    if kind == "Group":
        return subject.get("name") in sa.groups
    return False


def _role_rules(store: Store, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    if ref.get("kind") == "ClusterRole":
        role = store.find(CLUSTER_ROLES, None, ref.get("name", ""))
    elif ref.get("kind") == "Role":
        role = store.find(ROLES, namespace, ref.get("name", ""))
    else:
        role = None
    return (role or {}).get("rules") or []


def allowed(store: Store, sa: ServiceAccountIdentity, attrs: Attributes) -> tuple[bool, str]:
    """Whether ``sa`` may do ``attrs``, and the reason the API server would give."""
    if any(rule_allows(r, attrs) for r in BASIC_RULES):
        return True, "allowed for every authenticated user"
    with store.lock:
        for crb in store.list(CLUSTER_ROLE_BINDINGS, None):
            if any(_subject_matches(s, sa, "") for s in crb.get("subjects") or []):
                if any(rule_allows(r, attrs) for r in _role_rules(store, crb["roleRef"], "")):
                    return True, f'allowed by ClusterRoleBinding "{crb["metadata"]["name"]}"'
        if attrs.namespace:
            for rb in store.list(ROLE_BINDINGS, attrs.namespace):
                if any(_subject_matches(s, sa, attrs.namespace) for s in rb.get("subjects") or []):
                    rules = _role_rules(store, rb["roleRef"], attrs.namespace)
                    if any(rule_allows(r, attrs) for r in rules):
                        return True, f'allowed by RoleBinding "{rb["metadata"]["name"]}"'
    return False, ""


def refusal(sa: ServiceAccountIdentity, attrs: Attributes) -> str:
    """The text after '<what> is forbidden: ' in the 403, as the API server words it."""
    what = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    group = f'in API group "{attrs.group}"'
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{sa.username}" cannot {attrs.verb} resource "{what}" {group} {where}'
