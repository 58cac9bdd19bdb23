"""What a fresh emulator holds: system namespaces, a few nodes, the default ClusterRoles.

The nodes are fixed so capacity checks have numbers to work against: two CPU
nodes and one GPU node with ``nvidia.com/gpu`` allocatable. Nothing runs on
them; they exist as API objects only.
"""

from __future__ import annotations

from typing import Any

NODES = [
    ("devcloud-cpu-1", {"cpu": "32", "memory": "128Gi", "pods": "110"}),
    ("devcloud-cpu-2", {"cpu": "32", "memory": "128Gi", "pods": "110"}),
    ("devcloud-gpu-1", {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": "4"}),
]
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# namespaces the API server refuses to delete
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
_WORKLOADS = ["pods", "pods/log", "services", "configmaps", "persistentvolumeclaims"]

CLUSTER_ROLES: dict[str, list[dict[str, Any]]] = {
    "cluster-admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    "admin": [
        {
            "apiGroups": [""],
            "resources": [*_WORKLOADS, "secrets", "serviceaccounts"],
            "verbs": READ + WRITE,
        },
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["roles", "rolebindings"],
            "verbs": READ + WRITE,
        },
    ],
    "edit": [
        {"apiGroups": [""], "resources": [*_WORKLOADS, "secrets"], "verbs": READ + WRITE},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
    ],
    "view": [{"apiGroups": [""], "resources": _WORKLOADS, "verbs": READ}],
}


def node(name: str, allocatable: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": {},
        "status": {
            "capacity": dict(allocatable),
            "allocatable": dict(allocatable),
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {
                "kubeletVersion": "v1.37.0-devcloud-emulator",
                "architecture": "amd64",
                "operatingSystem": "linux",
                "containerRuntimeVersion": "none://emulated",
                "bootID": "",
                "kernelVersion": "",
                "kubeProxyVersion": "",
                "machineID": "",
                "osImage": "Kubernetes API emulator (no kubelet)",
                "systemUUID": "",
            },
        },
    }


def cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "rules": rules,
    }
