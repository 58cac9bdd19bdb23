"""A real Prometheus server (and ``promtool``) for the tests, wherever they run.

Why this exists
---------------
The metrics tests check two things a fake cannot: that ``promtool check
metrics`` accepts what ``/metrics`` serves, and that a real Prometheus scrapes
it and answers PromQL with the values we expect.  Debian ships both programs in
its ``prometheus`` package; a plain machine has neither.

* :func:`find_binaries` looks for ``prometheus`` and ``promtool`` on ``PATH``
  (Debian puts them in ``/usr/bin``).
* :func:`ensure_binaries` installs Debian's ``prometheus`` package when they
  are missing and we are root.  The package's maintainer scripts would start
  the system service (listening on every interface, port 9090, storing data
  under ``/var/lib/prometheus`` and starting again at boot); for the duration
  of the install a ``/usr/sbin/policy-rc.d`` that exits 101 stops that, and is
  removed afterwards.  A ``policy-rc.d`` that is already there (Docker images
  ship one) is left exactly as it is.
* :class:`PrivatePrometheus` runs a throw-away server: generated config
  (scrape interval 1 s by default), storage in a temporary directory, listening
  on a free port of 127.0.0.1 only.  :meth:`PrivatePrometheus.stop` stops it by
  its PID (SIGTERM, then SIGKILL) and removes the directory; it is registered
  with :mod:`atexit` as a safety net.

Only the standard library is used, so the helper works before the project's
virtualenv has anything else.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_INSTALL_LOCK = Path("/tmp/ngc-pilot-prometheus-install.lock")
_POLICY_RC_D_TEXT = """#!/bin/sh
# Written by ngc-pilot's tests/support/prometheus.py while it installs Prometheus,
# so that the install starts no service; removed again right after.
exit 101
"""


# ------------------------------------------------------------------------ binaries


def find_binaries() -> tuple[Path, Path] | None:
    """``(prometheus, promtool)`` if both are installed, else None."""
    found = [shutil.which(name) for name in ("prometheus", "promtool")]
    if all(found):
        return Path(found[0]), Path(found[1])  # type: ignore[arg-type]
    return None


def ensure_binaries() -> tuple[Path, Path]:
    """``(prometheus, promtool)``, installing Debian's package first if needed."""
    binaries = find_binaries()
    if binaries is not None:
        return binaries
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            "prometheus and promtool are not installed and cannot be installed here "
            "(need root and apt-get): install Debian's 'prometheus' package"
        )
    with open(_INSTALL_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if find_binaries() is None:  # another worker may have installed it meanwhile
                _apt_install()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError("installed 'prometheus' but found no prometheus/promtool on PATH")
    return binaries


def _apt_install() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    created = False
    if not (_POLICY_RC_D.exists() or _POLICY_RC_D.is_symlink()):
        _POLICY_RC_D.write_text(_POLICY_RC_D_TEXT)
        _POLICY_RC_D.chmod(0o755)
        created = True
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:  # stale package lists: update once and retry
            subprocess.run(
                ["apt-get", "update"], env=env, capture_output=True, timeout=1800, check=False
            )
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get install prometheus failed:\n{done.stderr[-2000:]}")
    finally:
        if created:
            _POLICY_RC_D.unlink(missing_ok=True)


def check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on ``text`` (exposition format); look at ``returncode``."""
    _, promtool = ensure_binaries()
    return subprocess.run(
        [str(promtool), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -------------------------------------------------------------------------- server


class PrivatePrometheus:
    """A throw-away Prometheus on a free port of 127.0.0.1 scraping ``targets``.

    ``targets`` are ``host:port`` strings (one job, ``ngc-pilot``, path
    ``/metrics``).  Use ``with PrivatePrometheus([...]) as prom:`` or
    ``start()``/``stop()``.  After :meth:`start`: ``url``, ``port``, ``pid``,
    ``base_dir`` (config, ``data/`` and ``prometheus.log``).
    """

    def __init__(
        self,
        targets: Sequence[str],
        *,
        scrape_interval: str = "1s",
        job: str = "ngc-pilot",
        timeout: float = 60,
    ) -> None:
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.job = job
        self.timeout = timeout
        self.url: str | None = None
        self.port: int | None = None
        self.pid: int | None = None
        self.base_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrivatePrometheus:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def log_path(self) -> Path | None:
        return self.base_dir / "prometheus.log" if self.base_dir else None

    def log(self) -> str:
        path = self.log_path
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else ""

    def config_text(self) -> str:
        # JSON is YAML; no YAML library needed.
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }
        return json.dumps(config, indent=2) + "\n"

    def start(self) -> PrivatePrometheus:
        if self.url is not None:
            return self
        prometheus, _ = ensure_binaries()
        atexit.register(self.stop)
        self.base_dir = Path(tempfile.mkdtemp(prefix="ngc-pilot-prometheus-"))
        config = self.base_dir / "prometheus.yml"
        config.write_text(self.config_text())
        try:
            for _ in range(5):
                port = free_port()
                if self._start_on(prometheus, config, port):
                    return self
            raise RuntimeError(f"Prometheus did not start:\n{self.log()}")
        except BaseException:
            self.stop()
            raise

    def _start_on(self, prometheus: Path, config: Path, port: int) -> bool:
        assert self.base_dir is not None and self.log_path is not None
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(prometheus),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.base_dir / 'data'}",
                    f"--web.listen-address={HOST}:{port}",
                    "--storage.tsdb.retention.time=1d",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
            )
        self.pid = self._proc.pid
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                if "address already in use" in self.log():
                    self._proc = None
                    self.pid = None
                    return False  # lost a race for the port: try another
                raise RuntimeError(f"Prometheus exited with {self._proc.returncode}:\n{self.log()}")
            if _ready(f"http://{HOST}:{port}"):
                self.port = port
                self.url = f"http://{HOST}:{port}"
                return True
            time.sleep(0.1)
        raise RuntimeError(f"Prometheus not ready after {self.timeout}s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server by its PID and remove its directory.  Idempotent."""
        atexit.unregister(self.stop)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
        self._proc = None
        self.url = self.port = self.pid = self.base_dir = None

    # -- HTTP API

    def api(self, path: str, **params: str) -> Any:
        assert self.url is not None, "not started"
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as reply:
            body = json.load(reply)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query (``/api/v1/query``); the vector's samples."""
        data = self.api("/api/v1/query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def values(self, expr: str, label: str | None = None) -> dict[str, float]:
        """``{label value: sample value}`` of an instant query (``""`` without a label)."""
        return {
            (sample["metric"].get(label, "") if label else ""): float(sample["value"][1])
            for sample in self.query(expr)
        }

    def targets_health(self) -> list[dict[str, Any]]:
        return list(self.api("/api/v1/targets")["activeTargets"])

    def wait_for(
        self,
        expr: str,
        accept: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 30,
    ) -> list[dict[str, Any]]:
        """Query ``expr`` until ``accept(result)``; raise with the targets' state if it never does."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if accept(result):
                return result
            time.sleep(0.25)
        raise AssertionError(
            f"{expr!r} gave {result} after {timeout}s; targets: {self.targets_health()}"
        )


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


# ----------------------------------------------------------------------- dashboards


def dashboard_exprs(path: Path) -> list[str]:
    """Every PromQL ``expr`` in a Grafana dashboard JSON file, in panel order."""
    exprs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                exprs.append(node["expr"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(path.read_text()).get("panels", []))
    return exprs


def grafana_to_promql(expr: str, pilot: str = ".*") -> str:
    """A dashboard expression with Grafana's variables replaced by plain PromQL."""
    return (
        expr.replace("$__rate_interval", "5m")
        .replace("$__range", "1h")
        .replace("${pilot:regex}", pilot)
        .replace("$pilot", pilot)
    )
