"""``plan(tenant, observed)`` for a namespace tenant: the pure diff, as :class:`Change` steps.

The same shape as ``provisioner.plan`` for OpenStack: one :class:`Change` per
object to create or update, in dependency order (namespace, quota, limits,
service accounts, role, binding, network policies), then removals of what
loosens the tenant (a RoleBinding or NetworkPolicy that is not ours, and a
ServiceAccount of ours whose member was removed: deleting it invalidates its
tokens, and the binding's update has already dropped it), then a token for
the PI's service account and for each member's when their bundle lacks one.

Drift is judged on the fields ngc-pilot sets and nothing else (a real API
server fills defaults the emulator does not, and adds metadata); quantities
are compared as numbers (a server writes ``1Ti`` for ``1048576Mi``).  A
namespace that carries another pilot's id (or none) is never touched:
:class:`provisioner.backend.ForeignResourceError`.

Nothing here performs I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioner.backend import ForeignResourceError
from provisioner.kubernetes import quantities
from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.kubernetes.manifests import Manifest, manifests, resource_of
from provisioner.kubernetes.names import MANAGED_LABEL, MANAGED_VALUE
from provisioner.model import Change, Plan

# Kinds whose every object in the namespace must be ours: any other one widens access.
EXCLUSIVE_KINDS = ("RoleBinding", "NetworkPolicy")
_QUANTITY_MAPS = {"hard", "default", "defaultRequest", "requests", "limits"}


@dataclass(frozen=True)
class ObservedNamespace:
    """What the cluster has for a pilot: objects by (kind, name), as API dictionaries."""

    namespace: Manifest | None = None
    owner: str | None = None  # the pilot id annotated on the namespace
    objects: dict[tuple[str, str], Manifest] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.namespace is not None


def drift(want: Any, have: Any, path: str = "") -> list[str]:
    """The paths under which ``have`` lacks or differs from what ``want`` sets."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [path or "."]
        out: list[str] = []
        for key, value in want.items():
            sub = f"{path}.{key}" if path else key
            if key not in have:
                if value not in ({}, []):
                    out.append(sub)
                continue
            out.extend(drift(value, have[key], sub))
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return [path]
        return [
            p
            for i, (w, h) in enumerate(zip(want, have, strict=True))
            for p in drift(w, h, f"{path}[{i}]")
        ]
    if want == have:
        return []
    if isinstance(want, str) and isinstance(have, str) and _in_quantity_map(path):
        try:
            if quantities.parse(want) == quantities.parse(have):
                return []
        except ValueError:
            pass
    return [path]


def _in_quantity_map(path: str) -> bool:
    """Whether ``path`` lies in a map of quantities (``spec.hard.requests.cpu``)."""
    parts = path.split(".")
    return any(part.split("[")[0] in _QUANTITY_MAPS for part in parts[:-1])


def refuse_foreign(tenant: NamespaceTenant, observed: ObservedNamespace, what: str) -> None:
    if observed.namespace is not None and observed.owner != tenant.pilot_id:
        uid = str((observed.namespace.get("metadata") or {}).get("uid", "?"))
        raise ForeignResourceError(
            f"{what} namespace {tenant.namespace}",
            "namespace",
            tenant.namespace,
            uid,
            observed.owner,
            tenant.pilot_id,
        )


def _ours(manifest: Manifest) -> bool:
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_LABEL) == MANAGED_VALUE


def plan(
    tenant: NamespaceTenant,
    observed: ObservedNamespace,
    *,
    credential_delivered: bool = True,
    member_tokens: Sequence[str] = (),
) -> Plan:
    """The changes that make ``observed`` into ``tenant``.

    ``credential_delivered`` is False when the researcher's kubeconfig does not
    hold a current token for the PI's service account: a token cannot be read
    back, so one is requested anew.  ``member_tokens``: the service accounts of
    members whose own bundle lacks a current token (each gets one).
    """
    refuse_foreign(tenant, observed, "provision")
    changes: list[Change] = []
    wanted = manifests(tenant)
    for manifest in wanted:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        have = observed.namespace if kind == "Namespace" else observed.objects.get((kind, name))
        resource = resource_of(manifest)
        if have is None:
            changes.append(Change("create", resource, name, {"kind": kind}))
            continue
        # list answers carry no apiVersion/kind per item; the kind is the key anyway
        differs = drift(
            {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}, have
        )
        if differs:
            changes.append(Change("update", resource, name, {"kind": kind, "drift": differs}))
    ours = {(m["kind"], m["metadata"]["name"]) for m in wanted}
    for kind, name in sorted(observed.objects):
        if kind in EXCLUSIVE_KINDS and (kind, name) not in ours:
            changes.append(
                Change(
                    "delete",
                    resource_of({"kind": kind}),
                    name,
                    {"kind": kind, "why": f"not ngc-pilot's: a {kind} widens the tenant's access"},
                )
            )
        elif kind == "ServiceAccount" and (kind, name) not in ours:
            if _ours(observed.objects[(kind, name)]):
                changes.append(
                    Change(
                        "delete",
                        "service_account",
                        name,
                        {"kind": kind, "why": "its member was removed: its tokens end with it"},
                    )
                )
    if not credential_delivered:
        changes.append(
            Change(
                "create",
                "service_account_token",
                tenant.pi_service_account,
                {"expires_at": tenant.expires_at.isoformat()},
            )
        )
    for account in tenant.service_accounts[1:]:
        if account in member_tokens:
            changes.append(
                Change(
                    "create",
                    "service_account_token",
                    account,
                    {"expires_at": tenant.expires_at.isoformat(), "member": True},
                )
            )
    return Plan(tenant.pilot_id, tuple(changes))


def plan_teardown(tenant: NamespaceTenant, observed: ObservedNamespace) -> Plan:
    """Delete the namespace (everything in it goes with it) and wait until it is gone."""
    if observed.namespace is None:
        return Plan(tenant.pilot_id, ())
    refuse_foreign(tenant, observed, "tear down")
    return Plan(tenant.pilot_id, (Change("delete", "namespace", tenant.namespace),))
