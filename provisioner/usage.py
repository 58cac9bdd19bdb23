"""Usage as the metering service sees it, in our own words: samples and a reader.

A :class:`provisioner.backend.UsageReader` answers one question: how much of
each metric did each of these projects use in ``[start, end)``?
``provisioner.openstack.usage`` answers it from Nova and Cinder;
``provisioner.kubernetes.usage`` from pods and claims, under the same shape.  The reader returns one sample per project and
metric it measures, zero included, so "measured, nothing used" differs from
"not measured".

What this module deliberately does not do: store, round or price anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# metric -> unit, in the order reports list them.  "GB" as OpenStack writes it
# (flavor RAM and disk, volume sizes): 2**30 bytes.
METRICS: dict[str, str] = {
    "vcpu_hours": "vCPU-hours",
    "ram_gb_hours": "GB-hours",
    "disk_gb_hours": "GB-hours",
    "volume_gb_hours": "GB-hours",
    "gpu_hours": "GPU-hours",
}

# Sources whose API forgets deleted resources (Cinder lists no deleted volume):
# reading a past window again can only miss usage, never correct it downwards,
# so a recompute keeps the larger of the stored and the newly read quantity.
BLIND_TO_DELETED: frozenset[str] = frozenset({"cinder"})

# The flavor extra spec that says how many GPUs a server of that flavor has.
GPU_SPEC = "ngc:gpus"


@dataclass(frozen=True)
class UsageSample:
    """How much of ``metric`` the project ``project_id`` used in one window."""

    project_id: str
    metric: str
    quantity: Decimal
    source: str  # nova | cinder | kubernetes

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; known: {', '.join(METRICS)}")
        if self.quantity < 0:
            raise ValueError(f"negative usage {self.quantity} of {self.metric}")
