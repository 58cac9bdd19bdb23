"""The researcher's ``kubeconfig``: their namespace, their service account's token, nothing else.

Built from the cluster's server address (and CA, when it has one) and the
TokenRequest token of one service account — the PI's, or a member's own —
which expires with the tenant.  The PI's is written into the researcher's
bundle folder (``provisioner.environment``'s ``<var>/environments/<pilot>/``),
a member's into their own bundle (``provisioner.member_bundle``), with mode
0600, atomically (temp file + rename).  The token exists only in that file:
never in the database, never in a log; :func:`describe` masks it.

What this module deliberately does not do: request the token (the plan's
``service_account_token`` step does) or write the rest of the bundle.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from provisioner.kubernetes.desired import NamespaceTenant
from provisioner.secrets import Secret

FILE_NAME = "kubeconfig"


def build(
    tenant: NamespaceTenant,
    *,
    server: str,
    token: Secret,
    ca_data: str | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """The kubeconfig of ``account`` (default: the PI's); its context's namespace is the tenant's."""
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    name = tenant.namespace
    user = f"{tenant.namespace}-{account or tenant.pi_service_account}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token.reveal()}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": user, "namespace": tenant.namespace},
            }
        ],
        "current-context": name,
    }


def dump(config: dict[str, Any]) -> str:
    """The kubeconfig file's text."""
    return yaml.safe_dump(config, sort_keys=False)


def write(folder: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` as ``folder/kubeconfig`` (0600, folder 0700), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / FILE_NAME
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{FILE_NAME}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump(config))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_token(folder: Path) -> dict[str, str] | None:
    """``{"token": ..., "namespace": ...}`` from a bundle's kubeconfig (for the probes), or None."""
    try:
        data = yaml.safe_load((folder / FILE_NAME).read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    namespace = ""
    for context in data.get("contexts") or []:
        namespace = str((context.get("context") or {}).get("namespace") or namespace)
    for user in data.get("users") or []:
        token = (user.get("user") or {}).get("token")
        if token:
            return {"token": token, "namespace": namespace}
    return None


def readme_section(tenant: NamespaceTenant, expires_at: str, account: str | None = None) -> str:
    """The README section on using the kubeconfig of ``account`` (default: the PI's), Markdown."""
    quota = "\n".join(f"| {k} | {v} |" for k, v in tenant.quota.items())
    mine = bool(account and account != tenant.pi_service_account)
    own = "your own service account" if mine else "service account"
    expiry = (
        f"is yours alone and expires at {expires_at} (UTC), with your access; it\n"
        "stops working at once if you are removed from the pilot."
        if mine
        else f"expires at {expires_at} (UTC), with your access."
    )
    return f"""## Kubernetes

Namespace `{tenant.namespace}`; `kubeconfig` in this folder acts as {own}
`{account or tenant.pi_service_account}` in that namespace only. Its token
{expiry}

```sh
export KUBECONFIG="$PWD/kubeconfig"
kubectl get pods
kubectl run hello --image=busybox --restart=Never -- echo hello
```

Pods must run as non-root (Pod Security "restricted"). A container that
states no requests gets {tenant.limit_default_requests["cpu"]} CPU and
{tenant.limit_default_requests["memory"]} memory. Pods reach each other and
DNS; nothing else goes in or out, except from the operations bastion
({tenant.bastion_cidr}). No LoadBalancer or NodePort services.

| quota | limit |
|---|---|
{quota}
"""
