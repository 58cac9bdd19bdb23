"""Metered usage of namespace tenants: pod requests integrated over the time each pod ran.

Per window ``[start, end)`` and namespace: for every pod that ran in the
window, the sum of its containers' requests (cpu, memory, ``nvidia.com/gpu``;
LimitRange defaults are already filled in by admission) times the part of its
run inside the window — start ``status.startTime``, end the latest container
``finishedAt`` of a ``Succeeded``/``Failed`` pod, else still running.  Claims
give volume GB-hours from their creation over their requested size.  The
metrics and units are OpenStack's (``provisioner.usage.METRICS``; "GB" is GiB),
so the same price list prices them.

Deleted pods: a real cluster forgets them, so only pods still present are
seen there; devcloud's emulator lists them at
``/apis/emulator.devcloud/v1/namespaces/NS/finishedpods`` (end: the deletion
time), and a 404 from that path means "none known".  Deleted claims are not
seen anywhere (like Cinder's deleted volumes).

What this module deliberately does not do: round, store or price anything;
count init containers (they run before, not beside, the pod's containers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from provisioner.kubernetes import quantities
from provisioner.kubernetes.connection import CLIENT_ERRORS, Cluster, status_code, translate_error
from provisioner.usage import UsageSample

SOURCE = "kubernetes"
FINISHED = ("Succeeded", "Failed")
GIB = Decimal(2**30)
HOUR = Decimal(3600)


@dataclass(frozen=True)
class Span:
    """Something that held resources from ``started`` until ``ended`` (None: still holds them)."""

    uid: str
    started: datetime
    ended: datetime | None
    amounts: dict[str, Decimal]  # metric -> amount per hour (cores, GiB, GPUs)


def hours_inside(span: Span, start: datetime, end: datetime) -> Decimal:
    begin = max(span.started, start)
    finish = min(span.ended or end, end)
    if finish <= begin:
        return Decimal(0)
    return Decimal((finish - begin).total_seconds()) / HOUR


def integrate(spans: Iterable[Span], start: datetime, end: datetime) -> dict[str, Decimal]:
    """metric -> amount × hours, summed over ``spans`` within ``[start, end)`` (pure)."""
    total = {
        "vcpu_hours": Decimal(0),
        "ram_gb_hours": Decimal(0),
        "gpu_hours": Decimal(0),
        "volume_gb_hours": Decimal(0),
    }
    for span in spans:
        hours = hours_inside(span, start, end)
        for metric, amount in span.amounts.items():
            total[metric] += amount * hours
    return total


def _requests(pod: dict[str, Any]) -> dict[str, Decimal]:
    cpu = memory = gpu = Decimal(0)
    for container in (pod.get("spec") or {}).get("containers", []):
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += quantities.parse(requests.get("cpu", "0"))
        memory += quantities.parse(requests.get("memory", "0"))
        gpu += quantities.parse(requests.get("nvidia.com/gpu", "0"))
    return {"vcpu_hours": cpu, "ram_gb_hours": memory / GIB, "gpu_hours": gpu}


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def pod_span(pod: dict[str, Any], *, deleted: bool = False) -> Span | None:
    """A pod (API dictionary) as a :class:`Span`; None when it never started."""
    status = pod.get("status") or {}
    started = _time(status.get("startTime"))
    if started is None:
        return None
    ended = None
    if status.get("phase") in FINISHED:
        finished = [
            _time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            for c in status.get("containerStatuses") or []
        ]
        ended = max((f for f in finished if f is not None), default=None)
    if deleted:
        gone = _time((pod.get("metadata") or {}).get("deletionTimestamp"))
        ended = min(e for e in (ended, gone) if e is not None) if (ended or gone) else None
    return Span(pod["metadata"]["uid"], started, ended, _requests(pod))


def claim_span(claim: dict[str, Any]) -> Span | None:
    meta, spec = claim.get("metadata") or {}, claim.get("spec") or {}
    created = _time(meta.get("creationTimestamp"))
    size = ((claim.get("status") or {}).get("capacity") or {}).get("storage") or (
        (spec.get("resources") or {}).get("requests") or {}
    ).get("storage")
    if created is None or size is None:
        return None
    return Span(
        meta.get("uid", ""), created, None, {"volume_gb_hours": quantities.parse(size) / GIB}
    )


class KubernetesUsage:
    """A :class:`provisioner.backend.UsageReader` whose project ids are namespace names."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def _finished_pods(self, namespace: str) -> list[dict[str, Any]]:
        api = self.cluster.api
        method, url, headers, body, _ = api.param_serialize(
            "GET",
            "/apis/emulator.devcloud/v1/namespaces/{namespace}/finishedpods",
            path_params={"namespace": namespace},
            auth_settings=["BearerToken"],
        )
        try:
            response = api.call_api(method, url, headers, body)
            response.read()
            if response.status == 404:
                return []
            pods = api.response_deserialize(response, {"200": "V1PodList"}).data.items
        except CLIENT_ERRORS as exc:
            if status_code(exc) == 404:
                return []  # a real cluster: deleted pods are not known
            raise
        return [api.sanitize_for_serialization(p) for p in pods]

    def spans(self, namespace: str) -> list[Span]:
        core, api = self.cluster.core(), self.cluster.api
        spans: dict[str, Span] = {}
        for pod in self._finished_pods(namespace):
            if (span := pod_span(pod, deleted=True)) is not None:
                spans[span.uid] = span
        for item in core.list_namespaced_pod(namespace).items:
            if (span := pod_span(api.sanitize_for_serialization(item))) is not None:
                spans[span.uid] = span
        for item in core.list_namespaced_persistent_volume_claim(namespace).items:
            if (span := claim_span(api.sanitize_for_serialization(item))) is not None:
                spans[f"pvc:{span.uid}"] = span
        return list(spans.values())

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        """One sample per namespace and metric (zero included) for ``[start, end)``."""
        samples = []
        for namespace in project_ids:
            try:
                spans = self.spans(namespace)
            except CLIENT_ERRORS as exc:
                raise translate_error(exc, f"reading usage of namespace {namespace}") from exc
            for metric, quantity in integrate(spans, start, end).items():
                samples.append(UsageSample(namespace, metric, quantity, SOURCE))
        return samples
