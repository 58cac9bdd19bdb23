"""One request through the emulator: authenticate, route, authorize, then act.

The admin bearer token (from devcloud's kubeconfig) is allowed everything;
any other token must be a live TokenRequest token of an existing service
account and is authorized by RBAC (``rbac.py``); no token, or an unknown one,
is 401. ``handle`` returns (HTTP code, body) where body is a dict (sent as
JSON) or a str (sent as text/plain).
"""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path
from typing import Any

from . import errors, objects, rbac, seed, special, validation
from .resources import BY_PATH, NotFoundPath, Target, parse_path
from .store import Store
from .tokens import ServiceAccountIdentity, TokenSigner

log = logging.getLogger("kube_emulator")
Admin = None  # the requester value that stands for the admin token
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}
_SUBRESOURCE_METHODS = {
    "token": ("POST",),
    "log": ("GET",),
    "exec": ("GET", "POST"),
    "status": ("GET", "PUT", "PATCH"),
}


class Emulator:
    def __init__(
        self, admin_token: str, signer: TokenSigner | None = None, state_file: Path | None = None
    ) -> None:
        self.admin_token = admin_token
        # tokens outlive a restart when the objects do: the key follows from the admin token
        self.signer = signer or TokenSigner(
            hmac.new(admin_token.encode(), b"service-account-tokens", "sha256").digest()
            if state_file is not None
            else None
        )
        self.store = Store(state_file)
        if not self.store.loaded:
            self._seed()

    def _seed(self) -> None:
        ns = BY_PATH[("", "v1", "namespaces")]
        for name in seed.SYSTEM_NAMESPACES:
            objects.create(self.store, Target(ns, None, None, None), {"metadata": {"name": name}})
        nodes = BY_PATH[("", "v1", "nodes")]
        for name, allocatable in seed.NODES:
            self.store.create(nodes, seed.node(name, allocatable))
        roles = BY_PATH[(rbac.RBAC, "v1", "clusterroles")]
        for name, rules in seed.CLUSTER_ROLES.items():
            self.store.create(roles, seed.cluster_role(name, rules))

    # -- authentication and authorization -----------------------------------------------

    def authenticate(self, header: str | None) -> ServiceAccountIdentity | None:
        """Admin (None) or the service account; raises 401 for anything else."""
        if not header or not header.startswith("Bearer "):
            raise errors.unauthorized()
        token = header[len("Bearer ") :].strip()
        if hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return Admin
        identity = self.signer.verify(token)
        if identity is None:
            raise errors.unauthorized()
        sa = self.store.find(objects.SERVICE_ACCOUNTS, identity.namespace, identity.name)
        if sa is None or sa["metadata"]["uid"] != identity.uid:
            raise errors.unauthorized()
        return identity

    @staticmethod
    def verb(method: str, target: Target, query: dict[str, str]) -> str:
        if target.subresource == "exec":
            return "create"
        if method == "GET":
            if target.name is None:
                return "watch" if query.get("watch") in ("true", "1") else "list"
            return "get"
        if method == "DELETE" and target.name is None:
            return "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]

    def authorize(self, who: ServiceAccountIdentity | None, verb: str, target: Target) -> None:
        if who is Admin:
            return
        # a namespace is authorized inside itself, so a RoleBinding there can grant reading it
        own_namespace = target.resource.plural == "namespaces" and not target.resource.group
        attrs = rbac.Attributes(
            verb=verb,
            group=target.resource.group,
            resource=target.resource.plural,
            subresource=target.subresource,
            namespace=target.name if own_namespace else target.namespace,
            name=target.name,
        )
        ok, _ = rbac.allowed(self.store, who, attrs)
        if not ok:
            raise errors.forbidden(
                attrs.resource, attrs.group, target.name, rbac.refusal(who, attrs)
            )

    # -- dispatch -------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        raw_body: bytes,
    ) -> tuple[int, dict[str, Any] | str]:
        try:
            return self._handle(method, path.rstrip("/") or "/", query, headers, raw_body)
        except errors.ApiError as e:
            return e.code, e.status()
        except Exception as e:  # a bug here must reach the client as a Status, not a dropped line
            log.exception("internal error on %s %s", method, path)
            return 500, errors.ApiError(500, "InternalError", f"internal error: {e!r}").status()

    def _handle(self, method, path, query, headers, raw_body):
        if method == "GET" and path in PUBLIC_PATHS:
            return 200, special.discovery(path) if path == "/version" else "ok"
        who = self.authenticate(headers.get("authorization"))
        if method == "GET" and (found := special.discovery(path)) is not None:
            return 200, found
        is_finished, ns = special.finished_pods_namespace(path)
        if is_finished:
            if who is not Admin or method != "GET":
                raise errors.forbidden("finishedpods", special.EMULATOR_GROUP, None, "admin only")
            return 200, special.finished_pods(self.store, ns)
        try:
            target = parse_path(path)
        except NotFoundPath:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            ) from None
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise errors.ApiError(405, "MethodNotAllowed", f"{method} is not supported")
        allowed = _SUBRESOURCE_METHODS.get(target.subresource)
        if allowed is not None and method not in allowed:
            raise errors.ApiError(
                405, "MethodNotAllowed", f"{method} is not supported on {target.subresource}"
            )
        verb = self.verb(method, target, query)
        if verb not in target.resource.verbs and verb not in ("deletecollection", "watch"):
            if target.subresource is None:
                raise errors.ApiError(
                    405, "MethodNotAllowed", f"{verb} is not supported on {target.resource.plural}"
                )
        if target.resource.namespaced and target.name is not None and target.namespace is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        self.authorize(who, verb, target)
        body = self._json(raw_body) if method in ("POST", "PUT", "PATCH") else None
        return self._act(method, verb, target, query, headers, body, who)

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise errors.bad_request(f"the request body is not JSON: {e}") from None

    def _act(self, method, verb, target, query, headers, body, who):
        store, sub = self.store, target.subresource
        if verb == "watch":
            raise errors.ApiError(
                405, "MethodNotAllowed", "the Kubernetes API emulator does not serve watch"
            )
        if sub == "token":
            return 201, special.token_request(store, self.signer, target, body)
        if sub == "exec":
            store.get(target.resource, target.namespace, target.name)
            raise errors.bad_request(
                "Upgrade request required (the Kubernetes API emulator runs no containers)"
            )
        if sub == "log":
            store.get(target.resource, target.namespace, target.name)
            return (
                200,
                f"(the Kubernetes API emulator runs no containers: pod {target.name} has no log)\n",
            )
        if target.resource.kind == "SelfSubjectAccessReview":
            if not isinstance(body, dict):
                raise errors.bad_request("the request body must be a JSON object")
            body.setdefault("apiVersion", "authorization.k8s.io/v1")
            body.setdefault("kind", "SelfSubjectAccessReview")
            found = validation.schema_problems(body, body["kind"], body["apiVersion"])
            if found:
                raise errors.invalid("SelfSubjectAccessReview", "authorization.k8s.io", "", found)
            return 201, special.access_review(store, who, body)
        if verb == "list":
            return 200, objects.list_objects(store, target, query)
        if verb == "get":
            obj = store.get(target.resource, target.namespace, target.name)
            return 200, objects.with_status(store, target.resource, obj)
        if verb == "create":
            if target.name is not None:
                raise errors.ApiError(
                    405, "MethodNotAllowed", "POST to a named object is not supported"
                )
            return 201, objects.create(store, target, body)
        if verb == "update":
            return 200, objects.replace(store, target, body)
        if verb == "patch":
            return 200, objects.patch(store, target, headers.get("content-type", ""), body)
        if verb == "delete":
            return 200, objects.delete(store, target)
        if verb == "deletecollection":
            return 200, objects.delete_collection(store, target, query)
        raise errors.ApiError(405, "MethodNotAllowed", f"{method} is not supported")
