"""The typed client calls for each kind of object a namespace tenant holds: an explicit table.

:data:`KINDS` maps a kind to the four calls observing and changing it needs
(list in a namespace, create, replace, merge-patch, delete), written out, so
what the backend may do to a cluster reads in one place.

What this module deliberately does not do: decide anything, or catch errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provisioner.kubernetes.connection import MERGE_PATCH, Cluster


@dataclass(frozen=True)
class KindCalls:
    list: Callable[[Cluster, str], Any]
    create: Callable[[Cluster, str, dict], Any]
    replace: Callable[[Cluster, str, str, dict], Any]
    patch: Callable[[Cluster, str, str, dict], Any]
    delete: Callable[[Cluster, str, str], Any]


KINDS: dict[str, KindCalls] = {
    "ResourceQuota": KindCalls(
        list=lambda c, ns: c.core().list_namespaced_resource_quota(ns),
        create=lambda c, ns, b: c.core().create_namespaced_resource_quota(ns, b),
        replace=lambda c, ns, n, b: c.core().replace_namespaced_resource_quota(n, ns, b),
        patch=lambda c, ns, n, b: c.core().patch_namespaced_resource_quota(
            n, ns, b, _content_type=MERGE_PATCH
        ),
        delete=lambda c, ns, n: c.core().delete_namespaced_resource_quota(n, ns),
    ),
    "LimitRange": KindCalls(
        list=lambda c, ns: c.core().list_namespaced_limit_range(ns),
        create=lambda c, ns, b: c.core().create_namespaced_limit_range(ns, b),
        replace=lambda c, ns, n, b: c.core().replace_namespaced_limit_range(n, ns, b),
        patch=lambda c, ns, n, b: c.core().patch_namespaced_limit_range(
            n, ns, b, _content_type=MERGE_PATCH
        ),
        delete=lambda c, ns, n: c.core().delete_namespaced_limit_range(n, ns),
    ),
    "ServiceAccount": KindCalls(
        list=lambda c, ns: c.core().list_namespaced_service_account(ns),
        create=lambda c, ns, b: c.core().create_namespaced_service_account(ns, b),
        replace=lambda c, ns, n, b: c.core().replace_namespaced_service_account(n, ns, b),
        patch=lambda c, ns, n, b: c.core().patch_namespaced_service_account(
            n, ns, b, _content_type=MERGE_PATCH
        ),
        delete=lambda c, ns, n: c.core().delete_namespaced_service_account(n, ns),
    ),
    "Role": KindCalls(
        list=lambda c, ns: c.rbac().list_namespaced_role(ns),
        create=lambda c, ns, b: c.rbac().create_namespaced_role(ns, b),
        replace=lambda c, ns, n, b: c.rbac().replace_namespaced_role(n, ns, b),
        patch=lambda c, ns, n, b: c.rbac().patch_namespaced_role(
            n, ns, b, _content_type=MERGE_PATCH
        ),
        delete=lambda c, ns, n: c.rbac().delete_namespaced_role(n, ns),
    ),
    "RoleBinding": KindCalls(
        list=lambda c, ns: c.rbac().list_namespaced_role_binding(ns),
        create=lambda c, ns, b: c.rbac().create_namespaced_role_binding(ns, b),
        replace=lambda c, ns, n, b: c.rbac().replace_namespaced_role_binding(n, ns, b),
        patch=lambda c, ns, n, b: c.rbac().patch_namespaced_role_binding(
            n, ns, b, _content_type=MERGE_PATCH
        ),
        delete=lambda c, ns, n: c.rbac().delete_namespaced_role_binding(n, ns),
    ),
    "NetworkPolicy": KindCalls(
        list=lambda c, ns: c.networking().list_namespaced_network_policy(ns),
        create=lambda c, ns, b: c.networking().create_namespaced_network_policy(ns, b),
        replace=lambda c, ns, n, b: c.networking().replace_namespaced_network_policy(n, ns, b),
        patch=lambda c, ns, n, b: c.networking().patch_namespaced_network_policy(
            n, ns, b, _content_type=MERGE_PATCH
        ),
        delete=lambda c, ns, n: c.networking().delete_namespaced_network_policy(n, ns),
    ),
}
