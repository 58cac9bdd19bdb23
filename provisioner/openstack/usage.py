"""Usage of OpenStack projects in one window, read from Nova and Cinder as an admin.

* Nova's ``os-simple-tenant-usage`` (all projects, ``detailed=1``,
  microversion 2.40 so that it pages by server) gives, per project,
  vCPU-hours, RAM MB-hours and local disk GB-hours — Nova's own arithmetic
  over each server's launch and termination times, deleted servers included
  until an operator archives Nova's deleted rows.  A project's servers can be
  split over pages; the totals of all pages are added.
* GPU-hours: each server's hours in the window × the ``ngc:gpus`` extra spec
  of its flavor (looked up by the flavor name Nova reports).
* Volume GB-hours: each volume's size × the part of ``[created_at, now)``
  inside the window, from Cinder's volume list (all projects).

What the APIs cannot show, and so is not metered:

* Cinder lists no deleted volume.  A volume deleted before the cycle that
  meters its last window has its usage in that window lost, and after
  deletion a recompute would see nothing; the metering service therefore
  never lowers a Cinder quantity on recompute (``usage.BLIND_TO_DELETED``).
* Cinder gives a volume's current size only: an extended volume counts at
  its new size for its whole life.  Volumes in status ``error`` (never
  allocated) count zero.
* A server whose flavor was deleted or renamed since it booted counts zero
  GPU-hours (Nova reports the flavor's name at boot; the extra spec is read
  from the flavors that exist now).

Raw REST (``conn.compute.get``) is used where the SDK has no proxy method with
the microversion and paging this needs; numbers are parsed as ``Decimal``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from openstack import exceptions as os_exceptions

from policies.windows import overlap_hours
from provisioner.openstack.connection import SDK_ERRORS, translate_error
from provisioner.usage import GPU_SPEC, UsageSample

NOVA_MICROVERSION = "2.40"  # paging of os-simple-tenant-usage
_CINDER_UNALLOCATED = frozenset({"error"})
_TIME = "%Y-%m-%dT%H:%M:%S.%f"


def _nova_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class OpenStackUsage:
    """A :class:`provisioner.backend.UsageReader` over an admin openstacksdk connection.

    The flavor list and the volume list are read once and reused for
    ``cache_seconds``: within one metering cycle every window is in the past,
    so a volume created after the listing contributes nothing to any of them.
    """

    def __init__(self, conn: Any, *, page_size: int | None = None, cache_seconds: float = 30.0):
        self.conn = conn
        self.page_size = page_size
        self.cache_seconds = cache_seconds
        self.reads = 0  # API reads made (a paged listing counts once), for the benchmark
        self._flavors: tuple[float, dict[str, int]] | None = None
        self._volumes: tuple[float, list[dict[str, Any]]] | None = None

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        wanted = sorted(set(project_ids))
        if not wanted:
            return []
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        try:
            nova = self._nova(start, end)
            gpus = (
                self._gpu_counts() if any(nova[p]["servers"] for p in wanted if p in nova) else {}
            )
            volumes = self._volume_list()
        except SDK_ERRORS as exc:
            raise translate_error(exc, "reading usage from Nova and Cinder") from exc
        out: list[UsageSample] = []
        for project in wanted:
            totals = nova.get(project)
            vcpu = ram_mb = disk = gpu = Decimal(0)
            if totals is not None:
                vcpu, ram_mb, disk = totals["vcpu"], totals["ram_mb"], totals["disk"]
                gpu = sum(
                    (hours * gpus.get(flavor, 0) for flavor, hours in totals["servers"]),
                    Decimal(0),
                )
            volume = sum(
                (
                    v["size"] * overlap_hours(v["created_at"], None, start, end)
                    for v in volumes
                    if v["project_id"] == project
                ),
                Decimal(0),
            )
            out.extend(
                [
                    UsageSample(project, "vcpu_hours", vcpu, "nova"),
                    UsageSample(project, "ram_gb_hours", ram_mb / 1024, "nova"),
                    UsageSample(project, "disk_gb_hours", disk, "nova"),
                    UsageSample(project, "gpu_hours", gpu, "nova"),
                    UsageSample(project, "volume_gb_hours", volume, "cinder"),
                ]
            )
        return out

    # ------------------------------------------------------------------ Nova

    def _nova(self, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
        """Per project: summed totals of every page, and (flavor, hours) per server."""
        query: dict[str, str] = {
            "detailed": "1",
            "start": _nova_time(start),
            "end": _nova_time(end),
        }
        if self.page_size:
            query["limit"] = str(self.page_size)
        out: dict[str, dict[str, Any]] = {}
        marker: str | None = None
        while True:
            params = {**query, **({"marker": marker} if marker else {})}
            body = self._get_json(
                self.conn.compute,
                f"/os-simple-tenant-usage?{urlencode(params)}",
                microversion=NOVA_MICROVERSION,
            )
            for usage in body.get("tenant_usages", []):
                project = out.setdefault(
                    usage["tenant_id"],
                    {"vcpu": Decimal(0), "ram_mb": Decimal(0), "disk": Decimal(0), "servers": []},
                )
                project["vcpu"] += Decimal(usage.get("total_vcpus_usage", 0))
                project["ram_mb"] += Decimal(usage.get("total_memory_mb_usage", 0))
                project["disk"] += Decimal(usage.get("total_local_gb_usage", 0))
                project["servers"].extend(
                    (s.get("flavor") or "", Decimal(s.get("hours", 0)))
                    for s in usage.get("server_usages", [])
                )
            marker = _next_marker(body.get("tenant_usages_links", []))
            if marker is None:
                return out

    def _gpu_counts(self) -> dict[str, int]:
        """GPUs per flavor name, from the ``ngc:gpus`` extra spec of every flavor."""
        if self._flavors is not None and self._fresh(self._flavors[0]):
            return self._flavors[1]
        counts = {}
        self.reads += 1
        for flavor in self.conn.compute.flavors(details=True, is_public=None):
            try:
                counts[flavor.name] = int((flavor.extra_specs or {}).get(GPU_SPEC, 0))
            except (TypeError, ValueError):
                counts[flavor.name] = 0  # a malformed spec is not a GPU count
        self._flavors = (time.monotonic(), counts)
        return counts

    # ---------------------------------------------------------------- Cinder

    def _volume_list(self) -> list[dict[str, Any]]:
        if self._volumes is not None and self._fresh(self._volumes[0]):
            return self._volumes[1]
        volumes = []
        self.reads += 1
        for volume in self.conn.block_storage.volumes(details=True, all_projects=True):
            if volume.status in _CINDER_UNALLOCATED or not volume.created_at:
                continue
            volumes.append(
                {
                    "project_id": volume.project_id,
                    "size": Decimal(int(volume.size or 0)),
                    "created_at": _parse_time(volume.created_at),
                }
            )
        self._volumes = (time.monotonic(), volumes)
        return volumes

    # --------------------------------------------------------------- helpers

    def _fresh(self, at: float) -> bool:
        return time.monotonic() - at < self.cache_seconds

    def _get_json(self, proxy: Any, url: str, **kwargs: Any) -> dict[str, Any]:
        self.reads += 1
        response = proxy.get(url, **kwargs)
        os_exceptions.raise_from_response(response)
        return json.loads(response.text, parse_float=Decimal)


def _next_marker(links: list[dict[str, str]]) -> str | None:
    for link in links:
        if link.get("rel") == "next":
            markers = parse_qs(urlparse(link["href"]).query).get("marker")
            return markers[0] if markers else None
    return None
