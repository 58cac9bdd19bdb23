"""Capacity of a cluster: the nodes' allocatable cpu, memory and GPUs, and what quotas promise.

The capacity gate adds up every namespace's ResourceQuota (``requests.*``,
falling back to the bare ``cpu``/``memory`` keys) and compares the sum, plus
the quota of the tenant about to be created, with what the nodes can
allocate — the same rule as for OpenStack's Placement
(``policies.capacity.check``).  Units are those of OpenStack's lines: cores,
``ram_mb`` (MiB) and GPUs.

What this module deliberately does not do: decide whether to proceed (the
caller, with ``--allow-overcommit``) or count running pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from policies.capacity import CapacityVerdict, check
from provisioner.backend import CapacityLine
from provisioner.kubernetes import quantities

MIB = Decimal(2**20)
# quota key (and its bare fallback) -> capacity resource, and the divisor into its unit
_QUOTA_KEYS = {
    "cores": (("requests.cpu", "cpu"), Decimal(1)),
    "ram_mb": (("requests.memory", "memory"), MIB),
    "gpus": (("requests.nvidia.com/gpu",), Decimal(1)),
}
_NODE_KEYS = {
    "cores": ("cpu", Decimal(1)),
    "ram_mb": ("memory", MIB),
    "gpus": ("nvidia.com/gpu", Decimal(1)),
}


def node_lines(
    allocatable: list[Mapping[str, str]], promised: Mapping[str, float]
) -> list[CapacityLine]:
    """One line per resource: the nodes' allocatable sum, ``used`` = what quotas promise."""
    lines = []
    for resource, (key, unit) in _NODE_KEYS.items():
        total = (
            sum((quantities.parse(node.get(key, "0")) for node in allocatable), Decimal(0)) / unit
        )
        lines.append(
            CapacityLine(
                resource, float(total), float(total), 1.0, used=float(promised.get(resource, 0.0))
            )
        )
    return lines


def quota_promise(hard: Mapping[str, str]) -> dict[str, float]:
    """What one ResourceQuota's ``hard`` map promises, in capacity units."""
    out: dict[str, float] = {}
    for resource, (keys, unit) in _QUOTA_KEYS.items():
        for key in keys:
            if key in hard:
                out[resource] = float(quantities.parse(hard[key]) / unit)
                break
    return out


def total_promise(hards: list[Mapping[str, str]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for hard in hards:
        for resource, amount in quota_promise(hard).items():
            total[resource] = total.get(resource, 0.0) + amount
    return total


def gate(lines: list[CapacityLine], new_quota: Mapping[str, str]) -> list[CapacityVerdict]:
    """Verdicts for adding ``new_quota`` to what the cluster's quotas already promise."""
    adding = quota_promise(new_quota)
    promised = {line.resource: line.used + adding.get(line.resource, 0.0) for line in lines}
    return check(promised, {line.resource: line.total for line in lines})
