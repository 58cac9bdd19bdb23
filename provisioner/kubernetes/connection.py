"""Connections to a Kubernetes API server from a kubeconfig, and error translation.

A kubeconfig is loaded explicitly from the path given (never ``$KUBECONFIG``
or ``~/.kube/config`` behind the caller's back), into a configuration of its
own, so the client's process-wide default is never changed.  One that does
not load is one :class:`provisioner.backend.CloudError` line naming the file.

:func:`translate_error` is the one place a client exception becomes a
:class:`CloudError`; no request body or token goes into a message.

What this module deliberately does not do: observe, plan or change tenants.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from provisioner.backend import CloudError

MERGE_PATCH = "application/merge-patch+json"
# Every exception the client raises on purpose, or its HTTP layer on a lost server.
CLIENT_ERRORS = (ApiException, urllib3.exceptions.HTTPError)


@dataclass
class Cluster:
    """The admin's connection to one cluster and what a tenant's kubeconfig needs of it."""

    api: client.ApiClient
    server: str
    ca_data: str | None  # base64 PEM, as a kubeconfig holds it
    verify_ssl: bool

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api)

    def networking(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.api)

    def close(self) -> None:
        self.api.close()


def load(kubeconfig: Path, context: str | None = None) -> Cluster:
    """The cluster of ``kubeconfig`` (its current context unless ``context``), as its user."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=str(kubeconfig),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:  # noqa: BLE001 - a bad kubeconfig fails in many types
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CloudError(
            f"cannot load kubeconfig {kubeconfig}"
            + (f" (context {context})" if context else "")
            + f": {reason}; a kubeconfig file with a cluster, a user and a current context is needed"
        ) from exc
    ca_data = None
    if configuration.ssl_ca_cert:
        ca_data = base64.b64encode(Path(configuration.ssl_ca_cert).read_bytes()).decode()
    return Cluster(
        client.ApiClient(configuration),
        configuration.host,
        ca_data,
        bool(configuration.verify_ssl),
    )


def as_token(cluster: Cluster, token: str) -> client.ApiClient:
    """A client for the same server acting with exactly ``token`` (nothing of the admin's)."""
    source = cluster.api.configuration
    configuration = client.Configuration()
    configuration.host = source.host
    configuration.ssl_ca_cert = source.ssl_ca_cert
    configuration.verify_ssl = source.verify_ssl
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(configuration)


def status_code(exc: Exception) -> int | None:
    status = getattr(exc, "status", None)
    return int(status) if isinstance(status, int) else None


def translate_error(exc: Exception, what: str) -> CloudError:
    """``exc`` as a :class:`CloudError` saying ``what`` failed; transient when a retry may help."""
    status = status_code(exc)
    if isinstance(exc, ApiException):
        message = ""
        try:
            message = str(json.loads(exc.body or "{}").get("message", ""))
        except (ValueError, AttributeError):
            message = ""
        # 409: something changed beneath us; re-observing and re-planning resolves it.
        transient = status is not None and (status >= 500 or status in (409, 429))
        detail = f"HTTP {status} {exc.reason}" + (f": {message}" if message else "")
        return CloudError(f"{what} failed: {detail}", transient=transient)
    return CloudError(f"{what} failed: {type(exc).__name__} (no answer)", transient=True)
