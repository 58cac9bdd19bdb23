"""Binding a new pod to a node, as the scheduler would, by requests against allocatable.

A pod goes to the first node (by name) whose allocatable cpu, memory,
``nvidia.com/gpu`` and pod count, minus what the pods already bound there
request, covers the pod's requests; it then runs at once. A pod that fits no
node stays Pending with ``PodScheduled=False, reason Unschedulable`` and no
``startTime``, so it is never metered.

Not emulated: retrying Pending pods when room frees up, affinity, taints,
node selectors and priorities.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import admission, quantity
from .resources import BY_PATH
from .store import Store

NODES = BY_PATH[("", "v1", "nodes")]
_SCHEDULED = ("cpu", "memory", "nvidia.com/gpu")


def _requests(pod: dict[str, Any]) -> dict[str, Decimal]:
    usage = admission.pod_usage(pod)
    return {name: usage.get(f"requests.{name}", Decimal(0)) for name in _SCHEDULED}


def choose_node(store: Store, pod: dict[str, Any]) -> str | None:
    """The node the pod is bound to, or None if none has room."""
    wanted = _requests(pod)
    bound: dict[str, list[dict[str, Any]]] = {}
    for other in store.list(admission.PODS, None):
        node = (other.get("spec") or {}).get("nodeName")
        if node and (other.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            bound.setdefault(node, []).append(other)
    for node in store.list(NODES, None):
        name = node["metadata"]["name"]
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        pods_there = bound.get(name, [])
        if len(pods_there) + 1 > int(quantity.parse(allocatable.get("pods", "110"))):
            continue
        fits = True
        for resource in _SCHEDULED:
            used = sum((_requests(p)[resource] for p in pods_there), Decimal(0))
            if used + wanted[resource] > quantity.parse(allocatable.get(resource, "0")):
                fits = False
                break
        if fits:
            return name
    return None


def unschedulable_status(message: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
            }
        ],
        "qosClass": "Burstable",
    }
