"""A member's own bundle: ``clouds.yaml`` + ``README.md``, and its age-encrypted copy.

Written to ``<environments>/<pilot>/members/<email>/`` (folders 0700, files
0600, each file atomically), the only place a member's secret exists in plain
text.  With an age public key the same two files are also packed into
``bundle.tar.age``, encrypted to that key (pyrage), which is what may be
delivered: ``age -d -i key.txt bundle.tar.age | tar x``.  On removal the
member's folder moves to ``members-removed/`` keeping only ``clouds.yaml``:
the revoked credential, so ``tenants verify`` can prove it no longer gets a
token.

What this module deliberately does not do: create credentials, send anything,
or log; the secret goes from :class:`Secret` into the files and nowhere else.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyrage
import yaml

from provisioner.secrets import Secret

ENCRYPTED_NAME = "bundle.tar.age"


def parse_recipient(key: str) -> Any:
    """The age recipient ``key`` (``age1...``); ValueError if it is not one."""
    try:
        return pyrage.x25519.Recipient.from_str(key.strip())
    except Exception as exc:  # noqa: BLE001 - pyrage raises its own error types
        raise ValueError("expected an age public key like age1… (age-keygen -y)") from exc


def member_folder(root: Path, pilot_id: str, email: str, *, removed: bool = False) -> Path:
    return root / pilot_id / ("members-removed" if removed else "members") / email.lower()


def _private_dirs(root: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder
    while True:
        os.chmod(path, 0o700)
        if path == root:
            break
        path = path.parent


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_member_bundle(
    root: Path,
    *,
    pilot_id: str,
    email: str,
    cloud_name: str,
    auth_url: str,
    region: str | None,
    credential_id: str,
    secret: Secret,
    role: str,
    project: str,
    expires_at: datetime,
    support_contact: str,
    recipient: str | None,
) -> Path:
    """Write the member's bundle (and its encrypted copy when ``recipient`` is given)."""
    folder = member_folder(root, pilot_id, email)
    _private_dirs(root, folder)
    clouds = {
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
    files = {
        "clouds.yaml": yaml.safe_dump(clouds, sort_keys=False).encode(),
        "README.md": _readme(
            pilot_id, email, cloud_name, project, role, expires_at, support_contact
        ).encode(),
    }
    for name, data in files.items():
        _write(folder / name, data)
    encrypted = folder / ENCRYPTED_NAME
    if recipient:
        _write(encrypted, pyrage.encrypt(_tar(files), [parse_recipient(recipient)]))
    else:
        encrypted.unlink(missing_ok=True)
    return folder


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"ngc-pilot/{name}")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _readme(
    pilot: str,
    email: str,
    cloud: str,
    project: str,
    role: str,
    expires_at: datetime,
    support: str,
) -> str:
    access = "read-only (reader)" if role == "reader" else "member"
    return f"""# NGC pilot {pilot}: your own access

For {email}: {access} access to OpenStack project `{project}`.
Your application credential is yours alone and expires at
{expires_at.isoformat()} (UTC), with the tenant.

```sh
export OS_CLIENT_CONFIG_FILE="$PWD/clouds.yaml"
export OS_CLOUD={cloud}
openstack server list
```

Keep these files private; never mail or commit `clouds.yaml`.
Support: {support} (mention pilot `{pilot}`).
"""


def read_member_credential(folder: Path) -> dict[str, str] | None:
    """The credential id and secret in a member's ``clouds.yaml``, or None."""
    try:
        data = yaml.safe_load((folder / "clouds.yaml").read_text())
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


def retire_member_bundle(root: Path, pilot_id: str, email: str) -> None:
    """Keep only the revoked ``clouds.yaml`` under ``members-removed/`` (for verify)."""
    live = member_folder(root, pilot_id, email)
    gone = member_folder(root, pilot_id, email, removed=True)
    if not live.is_dir():
        return
    _private_dirs(root, gone)
    if (live / "clouds.yaml").is_file():
        os.replace(live / "clouds.yaml", gone / "clouds.yaml")
    shutil.rmtree(live)


def removed_credentials(root: Path, pilot_id: str) -> dict[str, dict[str, str]]:
    """email -> revoked credential of each removed member whose bundle is kept."""
    base = root / pilot_id / "members-removed"
    out = {}
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        credential = read_member_credential(folder)
        if credential:
            out[folder.name] = credential
    return out
