"""Service-account tokens as the TokenRequest API issues them: signed, bound, expiring.

A compact JWT (HS256 with a key made at start, so tokens die with the
process) whose claims name the service account, its uid and an expiry. A
token whose service account was deleted, or re-created with another uid, no
longer authenticates, as with bound tokens on a real cluster.

It does not do audiences beyond echoing them, OIDC discovery or key rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ServiceAccountIdentity:
    namespace: str
    name: str
    uid: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return (
            "system:serviceaccounts",
            f"system:serviceaccounts:{self.namespace}",
            "system:authenticated",
        )


class TokenSigner:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def issue(self, sa: ServiceAccountIdentity, expires_at: int, audiences: list[str]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "iss": "https://kubernetes.default.svc (devcloud Kubernetes API emulator)",
            "sub": sa.username,
            "aud": audiences,
            "iat": int(time.time()),
            "exp": expires_at,
            "kubernetes.io": {
                "namespace": sa.namespace,
                "serviceaccount": {"name": sa.name, "uid": sa.uid},
            },
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, token: str) -> ServiceAccountIdentity | None:
        """The service account a valid, unexpired token names; None otherwise."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(payload))
            if int(claims["exp"]) <= time.time():
                return None
            k8s = claims["kubernetes.io"]
            return ServiceAccountIdentity(
                k8s["namespace"], k8s["serviceaccount"]["name"], k8s["serviceaccount"]["uid"]
            )
        except (ValueError, KeyError, TypeError):
            return None
