"""The Kubernetes objects of a namespace tenant, as plain API dictionaries (pure).

Plain dictionaries in the API's own JSON shape, so the same objects are sent
by the client, validated in unit tests against the pinned OpenAPI schemas
(kubernetes-validate) and compared with what a cluster returns.  Every field a
real API server would default (a NetworkPolicy port's ``protocol``,
``policyTypes``) is set explicitly, so comparing only the fields set here is
a sound drift check on a real cluster as on the emulator.

What this module deliberately does not do: decide what to change (``plan``)
or send anything.
"""

from __future__ import annotations

from typing import Any

from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.kubernetes.names import (
    MANAGED_LABEL,
    MANAGED_VALUE,
    PILOT_ANNOTATION,
    PILOT_LABEL,
    pilot_label_value,
)

Manifest = dict[str, Any]

POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]

# (kind, api group) of each object in dependency order; ``resource`` names in plans.
KINDS: dict[str, str] = {
    "Namespace": "namespace",
    "ResourceQuota": "resource_quota",
    "LimitRange": "limit_range",
    "ServiceAccount": "service_account",
    "Role": "role",
    "RoleBinding": "role_binding",
    "NetworkPolicy": "network_policy",
}


def _meta(tenant: NamespaceTenant, name: str, *, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {MANAGED_LABEL: MANAGED_VALUE, PILOT_LABEL: pilot_label_value(tenant.pilot_id)},
        "annotations": {PILOT_ANNOTATION: tenant.pilot_id},
    }
    if namespaced:
        meta["namespace"] = tenant.namespace
    return meta


def namespace(tenant: NamespaceTenant) -> Manifest:
    meta = _meta(tenant, tenant.namespace, namespaced=False)
    meta["labels"].update(POD_SECURITY)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def resource_quota(tenant: NamespaceTenant) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(tenant, "ngc-quota"),
        "spec": {"hard": dict(tenant.quota)},
    }


def limit_range(tenant: NamespaceTenant) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(tenant, "ngc-defaults"),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": dict(tenant.limit_defaults),
                    "defaultRequest": dict(tenant.limit_default_requests),
                }
            ]
        },
    }


def service_account(tenant: NamespaceTenant, name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(tenant, name)}


def role(tenant: NamespaceTenant) -> Manifest:
    """Workloads, pods (log, exec), services, configmaps, secrets, claims: this namespace only."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(tenant, tenant.role),
        "rules": [
            {
                "apiGroups": [""],
                "resources": [
                    "pods",
                    "services",
                    "configmaps",
                    "secrets",
                    "persistentvolumeclaims",
                ],
                "verbs": list(ALL_VERBS),
            },
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
            {
                "apiGroups": [""],
                "resources": ["events", "resourcequotas", "limitranges"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "statefulsets", "replicasets"],
                "verbs": list(ALL_VERBS),
            },
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": list(ALL_VERBS)},
        ],
    }


READ_VERBS = ("get", "list", "watch")


def reader_role(tenant: NamespaceTenant) -> Manifest:
    """What a ``reader`` member may do: look at workloads and their logs; no secrets, no exec."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(tenant, tenant.reader_role),
        "rules": [
            {
                "apiGroups": [""],
                "resources": [
                    "pods",
                    "pods/log",
                    "services",
                    "configmaps",
                    "persistentvolumeclaims",
                    "events",
                    "resourcequotas",
                    "limitranges",
                ],
                "verbs": list(READ_VERBS),
            },
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "statefulsets", "replicasets"],
                "verbs": list(READ_VERBS),
            },
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": list(READ_VERBS)},
        ],
    }


def _binding(tenant: NamespaceTenant, name: str, role_name: str, accounts: list[str]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(tenant, name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [
            {"kind": "ServiceAccount", "name": account, "namespace": tenant.namespace}
            for account in accounts
        ],
    }


def role_binding(tenant: NamespaceTenant) -> Manifest:
    """The PI and every member who is not a reader."""
    accounts = [a for a in tenant.service_accounts if a not in tenant.reader_accounts]
    return _binding(tenant, tenant.role_binding, tenant.role, accounts)


def reader_binding(tenant: NamespaceTenant) -> Manifest:
    return _binding(tenant, tenant.reader_binding, tenant.reader_role, list(tenant.reader_accounts))


def _policy(tenant: NamespaceTenant, name: str, spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(tenant, name),
        "spec": {"podSelector": {}, **spec},
    }


def network_policies(tenant: NamespaceTenant) -> list[Manifest]:
    """Deny all, then allow: inside the namespace, DNS to kube-system, ingress from the bastion.

    The deny-all policy names empty ``ingress`` and ``egress`` lists, so a rule
    added to it later (an allow-all, say) is drift.
    """
    dns_ports = [{"protocol": proto, "port": 53} for proto in ("UDP", "TCP")]
    return [
        _policy(
            tenant,
            "ngc-default-deny",
            {"policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []},
        ),
        _policy(
            tenant,
            "ngc-allow-same-namespace",
            {
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
        _policy(
            tenant,
            "ngc-allow-dns",
            {
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                }
                            }
                        ],
                        "ports": dns_ports,
                    }
                ],
            },
        ),
        _policy(
            tenant,
            "ngc-allow-bastion",
            {
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": tenant.bastion_cidr}}]}],
            },
        ),
    ]


def manifests(tenant: NamespaceTenant) -> list[Manifest]:
    """Every object of the tenant, in the order they must be created."""
    return [
        namespace(tenant),
        resource_quota(tenant),
        limit_range(tenant),
        *(service_account(tenant, name) for name in tenant.service_accounts),
        role(tenant),
        role_binding(tenant),
        # only while the tenant has readers: a reader binding left without any
        # is then not ngc-pilot's and the plan deletes it
        *((reader_role(tenant), reader_binding(tenant)) if tenant.reader_accounts else ()),
        *network_policies(tenant),
    ]


def token_request(expiration_seconds: int) -> Manifest:
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": expiration_seconds},
    }


def resource_of(manifest: Manifest) -> str:
    """The plan's ``resource`` word for a manifest (``network_policy``)."""
    return KINDS[manifest["kind"]]
