"""Connections to OpenStack, what one admin connection remembers, and error translation.

Connections are built explicitly from a ``clouds.yaml`` entry with
``load_envvars=False``, so ``OS_*`` variables or a ``./clouds.yaml`` in the
working directory can never silently change which identity acts (a tenant
connection that quietly became admin would hide isolation bugs).

:func:`translate_error` is the one place an SDK exception becomes a
:class:`provisioner.backend.CloudError`; every module of this package (and
nothing outside it) uses it.  No payload or secret goes into a message.

Every admin :func:`connect` to one cloud in a process returns one shared
connection (its proxies are made once, and used from many threads), so one
Keystone session: one token for all parallel workers (not one authentication per
tenant) and one HTTP pool per endpoint, sized to :data:`ENDPOINT_CONCURRENCY`
and blocking beyond it, so a parallel run never has more requests in flight
at one API than that.  A request on a kept-alive connection the API closed
meanwhile (gunicorn drops idle connections after 2 s; the request fails with
``RemoteDisconnected``, which keystoneauth reports as ``ConnectFailure``) is
re-sent by urllib3 if idempotent (at once, then with jittered backoff), and
any request failing to connect is retried :data:`CONNECT_RETRIES` times by
keystoneauth with backoff.

What this module deliberately does not do: observe, plan or change tenants.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.session import TCPKeepAliveAdapter
from openstack import exceptions as os_exceptions
from openstack.config import loader
from urllib3.util.retry import Retry

from provisioner.backend import CloudError, ForeignResourceError
from provisioner.model import DesiredTenant, owner_of

# Exceptions that mean "the cloud could not answer now" during reads.
TRANSIENT = (
    os_exceptions.HttpException,
    ks_exceptions.ConnectFailure,
    ks_exceptions.ConnectTimeout,
    ks_exceptions.ServiceUnavailable,
)
# Every exception the SDK raises on purpose.
SDK_ERRORS = (os_exceptions.SDKException, ks_exceptions.ClientException)


def translate_error(exc: Exception, what: str) -> CloudError:
    """``exc`` as a :class:`CloudError` saying ``what`` failed; transient when a retry may help."""
    status = getattr(exc, "status_code", None)
    # 409: something changed beneath us (another worker created the shared
    # domain first, say); re-observing and re-planning resolves it.
    transient = isinstance(exc, ks_exceptions.ConnectFailure | ks_exceptions.ConnectTimeout) or (
        status is not None and (int(status) >= 500 or int(status) == 409)
    )
    return CloudError(f"{what} failed: {type(exc).__name__} (HTTP {status})", transient=transient)


def _loader(clouds_file: Path | None) -> loader.OpenStackConfig:
    return loader.OpenStackConfig(
        config_files=[str(clouds_file)] if clouds_file else None,
        load_yaml_config=True,
        load_envvars=False,
    )


def cloud_config(cloud: str, clouds_file: Path | None) -> dict[str, Any]:
    """The named entry of ``clouds_file`` (auth, region, interface), read explicitly."""
    return _loader(clouds_file).get_one(cloud=cloud).config


# Requests in flight per API endpoint from this process, all workers together:
# devcloud's APIs serve 8 at once (one gunicorn worker, 8 threads); more only queue.
ENDPOINT_CONCURRENCY = 8
# Retries of a request whose connection failed (keystoneauth backs off 0.5 s, 1 s, 2 s).
CONNECT_RETRIES = 3
# Below keystoneauth: an idempotent request (GET, PUT, DELETE...) whose connection
# broke is re-sent at once, then after a backoff with random jitter, so parallel
# workers that failed together do not come back together.  Not POST (a create).
_IDEMPOTENT_RETRIES = Retry(
    total=3, connect=3, read=3, status=0, other=0, backoff_factor=0.1, backoff_jitter=0.3
)
_SHARED: dict[tuple[str, str | None], tuple[Any, dict[str, Any]]] = {}
_SHARED_LOCK = threading.Lock()


def connect(cloud: str, clouds_file: Path | None) -> openstack.connection.Connection:
    """The process's admin connection for ``cloud`` (see above), made on first use."""
    return _shared(cloud, clouds_file)[0]


def shared_config(cloud: str, clouds_file: Path | None) -> dict[str, Any]:
    """The named entry of ``clouds_file`` as :func:`connect` read it (auth, region, interface)."""
    return _shared(cloud, clouds_file)[1]


def _shared(cloud: str, clouds_file: Path | None) -> tuple[Any, dict[str, Any]]:
    """One connection and config per cloud and process: one session, one proxy per service.

    Every backend of the process shares them, so ``clouds.yaml`` is read once and
    each service's proxy (whose making costs ~30 ms of CPU: openstacksdk copies
    its service-type catalogue for each setting it looks up) is made once, not
    once per backend.
    """
    key = (cloud, str(clouds_file) if clouds_file else None)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            region = _loader(clouds_file).get_one(cloud=cloud, connect_retries=CONNECT_RETRIES)
            pool = TCPKeepAliveAdapter(
                pool_connections=16,  # endpoints (host:port) whose pools are kept
                pool_maxsize=ENDPOINT_CONCURRENCY,
                pool_block=True,
                max_retries=_IDEMPOTENT_RETRIES,
            )
            for scheme in ("http://", "https://"):
                region.get_session().session.mount(scheme, pool)
            found = (
                openstack.connection.Connection(config=region),
                cloud_config(cloud, clouds_file),
            )
            _SHARED[key] = found
    return found


_PROXY_LOCK = threading.Lock()


def ready(conn: Any, services: set[str]) -> None:
    """Make ``conn``'s proxies for ``services`` now, one thread at a time.

    openstacksdk makes a service's proxy on first use; threads reaching it at
    once each make one (~10 ms of CPU and a version discovery request each),
    so code about to send reads to a service from many threads calls this first.
    """
    with _PROXY_LOCK:
        for service in sorted(services):
            getattr(conn, service)


def connect_with(
    auth: dict[str, Any], region: str | None, auth_type: str = "password"
) -> openstack.connection.Connection:
    """A connection with exactly this identity (no clouds.yaml, no environment)."""
    return openstack.connect(
        auth=auth,
        auth_type=auth_type,
        region_name=region,
        load_yaml_config=False,
        load_envvars=False,
        identity_api_version="3",
    )


def first(items: Any) -> Any:
    return next(iter(items), None)


@dataclass
class Admin:
    """The admin connection of one backend and what it remembers between calls.

    ``cache`` holds the shared domain and global roles (looked up once);
    ``ids`` holds ids a later observation cannot read back (an application
    credential the admin may not list); ``known`` holds the tenant's
    resources this backend created or found since its last observation, by
    ``kind:name``, so a step uses the answer of the create before it instead
    of reading it again (:meth:`known_or`).  Every observation empties it.
    """

    conn: Any
    config: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    known: dict[str, Any] = field(default_factory=dict)

    def auth_url(self) -> str:
        return str(self.config["auth"]["auth_url"])

    def region(self) -> str | None:
        return self.config.get("region_name")

    def domain(self, desired: DesiredTenant) -> Any:
        """The shared domain (looked up once per backend; None while it does not exist)."""
        return self.cached_domain(desired)

    def cached_domain(self, desired: DesiredTenant) -> Any:
        key = f"domain:{desired.domain}"
        if key not in self.cache:
            domain = first(self.conn.identity.domains(name=desired.domain))
            if domain is None:
                return None
            self.cache[key] = domain
        return self.cache[key]

    def role(self, name: str) -> Any:
        # A missing role is looked up again next time: operations may create it
        # while this backend lives (the data-access role, say).
        key = f"role:{name}"
        if self.cache.get(key) is None:
            self.cache[key] = first(self.conn.identity.roles(name=name))
        return self.cache[key]

    def remember(self, key: str, resource: Any) -> Any:
        """Keep ``resource`` (the answer of a create or update) under ``key``; returns it."""
        self.known[key] = resource
        return resource

    def known_or(self, key: str, look: Callable[[], Any]) -> Any:
        """The resource remembered under ``key``, else ``look()``'s (a CloudError if none)."""
        found = self.known.get(key)
        if found is None:
            found = look()
            if found is None:
                kind, _, name = key.partition(":")
                raise CloudError(f"{kind} {name} is missing")
            self.known[key] = found
        return found

    def domain_and_project(self, desired: DesiredTenant, step: str) -> tuple[Any, Any]:
        """The shared domain and the pilot's project, refusing a project of another pilot."""
        domain = self.domain(desired)
        if domain is None:
            raise CloudError(f"domain {desired.domain} is missing")
        project = self.known_or(
            f"project:{desired.project}",
            lambda: first(self.conn.identity.projects(name=desired.project, domain_id=domain.id)),
        )
        ensure_owned(desired, "project", project, step)
        return domain, project


def ensure_owned(desired: DesiredTenant, kind: str, resource: Any, step: str) -> None:
    """Raise :class:`ForeignResourceError` unless ``resource`` carries this pilot's tag.

    The last check before a change: observation and the plan refuse first;
    this catches a resource that changed hands between observing and acting.
    """
    owner = owner_of(getattr(resource, "tags", None) or ())
    if owner != desired.pilot_id:
        raise ForeignResourceError(
            step, kind, getattr(resource, "name", "?"), resource.id, owner, desired.pilot_id
        )
