"""The emulator's objects: an in-memory map with the API's bookkeeping.

One lock guards everything (the emulator is for tests and a demo, not for
load); every write bumps a single cluster-wide ``resourceVersion`` counter as
etcd's revision does, and a write that names an older resourceVersion is a 409
Conflict. Objects go in and out as deep copies, so callers never share state.

Deleted pods are not forgotten: their last state, stamped with an end time, is
kept in ``finished_pods`` for metering (real clusters drop them; see README).
Given a ``path``, every write saves the whole store there (atomically, 0600),
and a new Store loads it, so a restarted emulator keeps its objects; the store
is small (tens of tenants), so no journal is needed.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import errors
from .resources import Resource

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.objects: dict[Key, dict[str, Any]] = {}
        self.revision = 0
        self.finished_pods: list[dict[str, Any]] = []
        self.path = path
        self.loaded = False
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            self.revision = saved["revision"]
            self.objects = {tuple(k): obj for k, obj in saved["objects"]}
            self.finished_pods = saved["finished_pods"]
            self.loaded = True

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "revision": self.revision,
            "objects": [[list(k), obj] for k, obj in self.objects.items()],
            "finished_pods": self.finished_pods,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)

    def _next_rv(self) -> str:
        self.revision += 1
        return str(self.revision)

    @staticmethod
    def key(resource: Resource, namespace: str | None, name: str) -> Key:
        return (resource.group, resource.plural, namespace or "", name)

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get(self.key(resource, namespace, name))
            if obj is None:
                raise errors.not_found(resource.plural, resource.group, name)
            return copy.deepcopy(obj)

    def find(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get(self.key(resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: Resource, namespace: str | None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                copy.deepcopy(obj)
                for (group, plural, ns, _), obj in sorted(self.objects.items())
                if group == resource.group
                and plural == resource.plural
                and (namespace is None or ns == namespace)
            ]

    def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            meta = obj["metadata"]
            key = self.key(resource, meta.get("namespace"), meta["name"])
            if key in self.objects:
                raise errors.already_exists(resource.plural, resource.group, meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["resourceVersion"] = self._next_rv()
            meta.setdefault("generation", 1)
            self.objects[key] = copy.deepcopy(obj)
            self._save()
            return obj

    def replace(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` over the current object; 409 if it names an older resourceVersion."""
        with self.lock:
            meta = obj["metadata"]
            key = self.key(resource, meta.get("namespace"), meta["name"])
            current = self.objects.get(key)
            if current is None:
                raise errors.not_found(resource.plural, resource.group, meta["name"])
            cur_meta = current["metadata"]
            wanted = meta.get("resourceVersion")
            if wanted and wanted != cur_meta["resourceVersion"]:
                raise errors.conflict(resource.plural, resource.group, meta["name"])
            for kept in ("uid", "creationTimestamp"):
                meta[kept] = cur_meta[kept]
            if current.get("spec") != obj.get("spec"):
                meta["generation"] = cur_meta.get("generation", 1) + 1
            else:
                meta["generation"] = cur_meta.get("generation", 1)
            meta["resourceVersion"] = self._next_rv()
            self.objects[key] = copy.deepcopy(obj)
            self._save()
            return obj

    def delete(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.pop(self.key(resource, namespace, name), None)
            if obj is None:
                raise errors.not_found(resource.plural, resource.group, name)
            self._next_rv()
            if resource.plural == "pods" and not resource.group:
                self._finish_pod(obj)
            self._save()
            return obj

    def delete_namespace_contents(self, namespace: str) -> int:
        """Remove every object in ``namespace``; pods go to ``finished_pods``."""
        with self.lock:
            keys = [k for k in self.objects if k[2] == namespace]
            for key in keys:
                obj = self.objects.pop(key)
                if key[:2] == ("", "pods"):
                    self._finish_pod(obj)
            if keys:
                self._next_rv()
                self._save()
            return len(keys)

    def _finish_pod(self, pod: dict[str, Any]) -> None:
        if not (pod.get("status") or {}).get("startTime"):
            return  # never ran (unschedulable): nothing to meter
        ended = now()
        pod["metadata"]["deletionTimestamp"] = ended
        status = pod.setdefault("status", {})
        if status.get("phase") not in ("Succeeded", "Failed"):
            status["phase"] = "Succeeded"
            for cs in status.get("containerStatuses") or []:
                started = (cs.get("state") or {}).get("running", {}).get("startedAt")
                cs["state"] = {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Deleted",
                        "startedAt": started or status.get("startTime"),
                        "finishedAt": ended,
                    }
                }
        self.finished_pods.append(copy.deepcopy(pod))
