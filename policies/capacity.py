"""Capacity check before provisioning: do all tenants' quotas fit the cloud?

Quotas are promises: the sum of every active tenant's quota (plus the ones
about to be created) is compared with what Placement can allocate
(inventory × allocation ratio − reserved).  Pure; the numbers come from the
shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CapacityVerdict:
    resource: str
    promised: float
    available: float

    @property
    def over(self) -> bool:
        return self.promised > self.available + 1e-9

    def message(self) -> str:
        return (
            f"{self.resource}: tenants' quotas would total {self.promised:g}, "
            f"the cloud can allocate {self.available:g}"
        )


def check(promised: Mapping[str, float], available: Mapping[str, float]) -> list[CapacityVerdict]:
    """One verdict per resource the cloud reports; compare with ``.over``."""
    return [
        CapacityVerdict(resource, float(promised.get(resource, 0.0)), float(total))
        for resource, total in sorted(available.items())
    ]
