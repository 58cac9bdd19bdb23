"""The isolation probe: act as one tenant's own token and try to reach the others and the cluster.

Every attempt is a :class:`provisioner.backend.Probe`.  Only a refusal by
authorization (401, 403) proves nothing leaked: the API server authorizes
before it looks an object up, so a 404 means the request was allowed.  Any
answer with data, any other error, counts as a leak.  Tried, with the
tenant's token: list and get pods, secrets and configmaps in every other
pilot's namespace; list namespaces; read nodes; create a namespace; create a
ClusterRoleBinding.  Anything the probe managed to create is removed again
as the admin.  :func:`probe_revoked` tries a removed member's token, which
must no longer authenticate at all (401: its service account was deleted).

What this module deliberately does not do: choose the targets (the caller
passes every other tenant) or issue the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from provisioner.backend import Probe
from provisioner.kubernetes.connection import CLIENT_ERRORS, Cluster, as_token, status_code
from provisioner.kubernetes.names import fold

REFUSED = (401, 403)
UNAUTHENTICATED = 401
REVOKED_WHAT = "revoked kubernetes token"
PROBE_NAME = "ngc-isolation-probe"


def _try(pilot_id: str, target: str, what: str, call: Callable[[], Any]) -> Probe:
    try:
        call()
    except CLIENT_ERRORS as exc:
        status = status_code(exc)
        if status in REFUSED:
            return Probe(pilot_id, target, what, False, f"refused (HTTP {status})")
        return Probe(pilot_id, target, what, True, f"not refused by authorization (HTTP {status})")
    return Probe(pilot_id, target, what, True, "allowed")


def probe_isolation(
    admin: Cluster, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
) -> list[Probe]:
    """``credential``: ``{"token": ...}``; ``targets``: pilot -> ``{"namespace": ...}``."""
    tenant = as_token(admin, credential["token"])
    core, rbac = client.CoreV1Api(tenant), client.RbacAuthorizationV1Api(tenant)
    probes: list[Probe] = []
    try:
        for target, ids in sorted(targets.items()):
            if target == pilot_id:
                continue
            ns = ids["namespace"]
            checks = [
                ("list pods", lambda ns=ns: core.list_namespaced_pod(ns)),
                ("get pod", lambda ns=ns: core.read_namespaced_pod(PROBE_NAME, ns)),
                ("list secrets", lambda ns=ns: core.list_namespaced_secret(ns)),
                ("get secret", lambda ns=ns: core.read_namespaced_secret(PROBE_NAME, ns)),
                ("list configmaps", lambda ns=ns: core.list_namespaced_config_map(ns)),
                ("get configmap", lambda ns=ns: core.read_namespaced_config_map(PROBE_NAME, ns)),
            ]
            probes.extend(_try(pilot_id, target, what, call) for what, call in checks)
        name = f"{PROBE_NAME}-{fold(pilot_id, limit=40)}"
        cluster_checks = [
            ("list namespaces", core.list_namespace),
            ("list nodes", core.list_node),
            ("create namespace", lambda: core.create_namespace({"metadata": {"name": name}})),
            (
                "create clusterrolebinding",
                lambda: rbac.create_cluster_role_binding(
                    {
                        "metadata": {"name": name},
                        "roleRef": {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "ClusterRole",
                            "name": "cluster-admin",
                        },
                        "subjects": [
                            {
                                "kind": "Group",
                                "name": "system:authenticated",
                                "apiGroup": "rbac.authorization.k8s.io",
                            }
                        ],
                    }
                ),
            ),
        ]
        probes.extend(_try(pilot_id, "cluster", what, call) for what, call in cluster_checks)
    finally:
        tenant.close()
    _clean_up(admin, probes, name)
    return probes


def _clean_up(admin: Cluster, probes: list[Probe], name: str) -> None:
    """Remove, as the admin, what a leaking probe created (a leak must not stay open)."""
    for probe in probes:
        if not probe.leaked or probe.detail != "allowed":
            continue
        try:
            if probe.what == "create clusterrolebinding":
                admin.rbac().delete_cluster_role_binding(name)
            elif probe.what == "create namespace":
                admin.core().delete_namespace(name)
        except ApiException:
            pass  # reported as a leak already; the operator removes what is left


def probe_revoked(admin: Cluster, pilot_id: str, target: str, credential: dict[str, str]) -> Probe:
    """A removed member's token (``{"token", "namespace"}``): only 401 proves it revoked.

    A 403 would mean the token still authenticates (its service account
    exists) and merely lacks a binding: not revoked.
    """
    tenant = as_token(admin, credential["token"])
    try:
        client.CoreV1Api(tenant).list_namespaced_pod(credential.get("namespace") or "default")
    except CLIENT_ERRORS as exc:
        status = status_code(exc)
        if status == UNAUTHENTICATED:
            return Probe(pilot_id, target, REVOKED_WHAT, False, "refused (HTTP 401, revoked)")
        return Probe(
            pilot_id,
            target,
            REVOKED_WHAT,
            True,
            f"still authenticates (HTTP {status}): NOT revoked",
        )
    finally:
        tenant.close()
    return Probe(pilot_id, target, REVOKED_WHAT, True, "allowed: access NOT revoked")
