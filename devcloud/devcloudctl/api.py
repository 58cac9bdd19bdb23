"""Just enough HTTP to ask devcloud's APIs whether they work (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status a GET of ``url`` gets, or None if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError, TimeoutError):
        return None


class AdminSession:
    """A project-scoped admin token on devcloud's Keystone."""

    def __init__(self, keystone_url: str, password: str, timeout: float = 10.0) -> None:
        self.timeout = timeout
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"name": "Default"},
                            "password": password,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        req = urllib.request.Request(
            f"{keystone_url}/auth/tokens",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            self.token = resp.headers["X-Subject-Token"]
            self.project_id = json.load(resp)["token"]["project"]["id"]

    def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        req = urllib.request.Request(url, headers={"X-Auth-Token": self.token, **(headers or {})})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.load(resp)


def service_states(
    session: AdminSession, ports: dict[str, int], since: dict[str, float] | None = None
) -> dict[str, str]:
    """binary -> 'up'/'down' from Nova's and Cinder's service lists (missing = never reported).

    ``since`` maps a binary to the UNIX time its process started: a record last updated
    before then counts as down. A restarted daemon's old record stays "up" for a minute,
    and a heartbeat the old process left queued is written when the conductor next runs.
    """
    since = since or {}
    states: dict[str, str] = {}
    for port_key, path in (("nova", "/v2.1/os-services"), ("cinder", "/v3/os-services")):
        try:
            services = session.get(f"http://127.0.0.1:{ports[port_key]}{path}")["services"]
        except (urllib.error.URLError, OSError, KeyError, ValueError, TimeoutError):
            continue
        for svc in services:
            ok = (
                svc.get("state") == "up"
                and svc.get("status") == "enabled"
                and _updated_at(svc) >= since.get(svc["binary"], 0.0)
            )
            # several records per binary (cinder-volume is per backend): up if any is up
            if ok or svc["binary"] not in states:
                states[svc["binary"]] = "up" if ok else "down"
    return states


def _updated_at(svc: dict) -> float:
    stamp = svc.get("updated_at")
    if not stamp:
        return 0.0
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # both APIs report UTC without an offset
    return parsed.timestamp()
