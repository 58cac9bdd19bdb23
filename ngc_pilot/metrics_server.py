"""The ``/metrics`` HTTP endpoint that ``ngc-pilot serve`` hosts: a small WSGI app in a thread.

Why this exists: Prometheus scrapes the service over HTTP.  The app serves
either a registry (rendered afresh on each request, as the tests and the
benchmark's baseline do) or the body of a
:class:`ngc_pilot.metrics_cache.ScrapeCache`, which re-renders only the
per-tenant blocks whose rows changed.  Split from :mod:`ngc_pilot.metrics`,
which reads and renders the families.

What this module does not do: read the database or decide what a metric is.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer
from sqlalchemy import Engine

from ngc_pilot.exposition import CONTENT_TYPE, render
from ngc_pilot.metrics_cache import ScrapeCache
from policies.tenancy import TenantPolicy


def metrics_app(
    source: CollectorRegistry | Callable[[], bytes],
) -> Callable[..., list[bytes]]:
    """A WSGI app serving ``source`` in the text format (see ``ngc_pilot.exposition``).

    ``source`` is a registry (rendered afresh on each request) or a function
    returning the body (``serve`` passes a :class:`ngc_pilot.metrics_cache.ScrapeCache`'s).
    Not compressed even when Prometheus offers gzip: the endpoint is meant for
    loopback or a LAN, and compressing costs more time than it saves there.
    """
    if isinstance(source, CollectorRegistry):
        registry = source

        def body() -> bytes:
            return render(registry.collect())

    else:
        body = source

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b"use GET\n"]
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"see /metrics\n"]
        data = body()
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))]
        )
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else data]

    return app


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (one every few seconds)."""


def start_metrics_server(
    engine: Engine, tenant_policy: TenantPolicy, host: str, port: int
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; ``port`` 0 picks a free one.

    Returns ``(server, thread)``: ``server.server_port`` is the bound port,
    ``server.shutdown()`` stops serving.  One thread per request, as
    prometheus_client does; the per-tenant blocks are reused between scrapes
    while their rows are unchanged (:mod:`ngc_pilot.metrics_cache`).
    """
    app = metrics_app(ScrapeCache(engine, tenant_policy).body)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("MetricsServer", (ThreadingWSGIServer,), {"address_family": family})
    server = make_server(host, port, app, server_class, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="ngc-pilot-metrics", daemon=True)
    thread.start()
    return server, thread
