"""The researcher's environment bundle: ``clouds.yaml``, ``README.md``, ``environment.json``.

Written to ``<var>/environments/<pilot>/`` with mode 0700 (directory) and
0600 (files), atomically (temp file + rename).  The application-credential
secret exists only in ``clouds.yaml`` here: never in the database, never in
a log.  :func:`describe` reads a bundle back with the secret masked.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from provisioner.model import DesiredTenant
from provisioner.secrets import Secret


@dataclass(frozen=True)
class Bundle:
    path: Path
    credential_id: str | None


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (a bundle file another module adds to)."""
    _write(path, text)


def write_bundle(
    root: Path,
    desired: DesiredTenant,
    *,
    auth_url: str,
    region: str | None,
    credential_id: str,
    secret: Secret,
    project_id: str,
    pilot_name: str,
    start: date,
    end: date,
    support_contact: str,
) -> Bundle:
    folder = root / desired.pilot_id
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    os.chmod(folder, 0o700)
    cloud_name = desired.project
    clouds: dict[str, Any] = {
        "clouds": {
            cloud_name: {
                "auth_type": "v3applicationcredential",
                "auth": {
                    "auth_url": auth_url,
                    "application_credential_id": credential_id,
                    "application_credential_secret": secret.reveal(),
                },
                "identity_api_version": 3,
                "interface": "public",
                **({"region_name": region} if region else {}),
            }
        }
    }
    _write(folder / "clouds.yaml", yaml.safe_dump(clouds, sort_keys=False))
    environment = {
        "pilot": desired.pilot_id,
        "name": pilot_name,
        "cloud": cloud_name,
        "project": desired.project,
        "project_id": project_id,
        "domain": desired.domain,
        "size": desired.size,
        "quotas": {**desired.compute_quota, **desired.network_quota, **desired.volume_quota},
        "network": desired.network,
        "subnet": desired.subnet,
        "cidr": desired.cidr,
        "security_group": desired.security_group,
        "ingress_from": sorted({r.remote_cidr for r in desired.ingress}),
        "flavor": desired.flavor,
        "application_credential_id": credential_id,
        "planned_start": start.isoformat(),
        "planned_end": end.isoformat(),
        "credential_expires_at": desired.expires_at.isoformat(),
        "support_contact": support_contact,
    }
    _write(folder / "environment.json", json.dumps(environment, indent=2) + "\n")
    _write(folder / "README.md", _readme(environment))
    return Bundle(folder, credential_id)


def _readme(env: dict[str, Any]) -> str:
    quotas = "\n".join(f"| {k} | {v} |" for k, v in env["quotas"].items())
    return f"""# Your NGC pilot environment: {env["name"]}

Pilot `{env["pilot"]}` — OpenStack project `{env["project"]}` in domain `{env["domain"]}`.
Access from {env["planned_start"]} to {env["planned_end"]}; the credential
expires at {env["credential_expires_at"]} (UTC).

## Connect

```sh
export OS_CLIENT_CONFIG_FILE="$PWD/clouds.yaml"
export OS_CLOUD={env["cloud"]}
openstack server list
openstack server create --flavor {env["flavor"]} --network {env["network"]} \\
    --security-group {env["security_group"]} --image <image> my-first-server
```

`clouds.yaml` holds an application credential for your project only. Keep
this folder private (it is readable by you alone); never mail or commit it.

## Your network

Private network `{env["network"]}` with subnet `{env["subnet"]}` ({env["cidr"]}).
There is no route to the internet. Servers accept connections only from the
NGC operations bastion ({", ".join(env["ingress_from"])}) through security
group `{env["security_group"]}`.

## Your quotas ({env["size"]})

| resource | limit |
|---|---|
{quotas}

## Support

Write to {env["support_contact"]} and mention pilot `{env["pilot"]}`.
Usage is metered and priced at list price with a 100 % pilot discount: you
pay nothing, and you see what the pilot would have cost.
"""


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_credential(folder: Path) -> dict[str, str] | None:
    """The credential id and secret of a bundle (for ``tenants verify``), or None."""
    try:
        # libyaml's safe loader where present: read for every tenant of every
        # re-apply, the pure-Python one costs ~3 ms of CPU a bundle.
        data = yaml.load((folder / "clouds.yaml").read_text(), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return None
    for cloud in (data or {}).get("clouds", {}).values():
        auth = cloud.get("auth", {})
        if auth.get("application_credential_id") and auth.get("application_credential_secret"):
            return {
                "id": auth["application_credential_id"],
                "secret": auth["application_credential_secret"],
            }
    return None


def describe(folder: Path) -> dict[str, Any]:
    """What a bundle holds, with the secret masked."""
    files = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        files[path.name] = {"mode": oct(path.stat().st_mode & 0o777), "bytes": path.stat().st_size}
    environment = {}
    if (folder / "environment.json").is_file():
        environment = json.loads((folder / "environment.json").read_text())
    credential = read_credential(folder)
    return {
        "path": str(folder),
        "exists": folder.is_dir(),
        "mode": oct(folder.stat().st_mode & 0o777) if folder.is_dir() else None,
        "files": files,
        "environment": environment,
        "credential": {"id": credential["id"], "secret": "***"} if credential else None,
    }
