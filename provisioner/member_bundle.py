"""A member's own bundle: ``clouds.yaml`` + ``README.md`` (+ ``kubeconfig``), and its age-encrypted copy.

Written to ``<environments>/<pilot>/members/<email>/`` (folders 0700, files
0600, each file atomically), the only place a member's secrets exist in plain
text.  Where the pilot has a Kubernetes namespace, the member's own
``kubeconfig`` (their service account's TokenRequest token) joins the bundle
when it is issued — possibly in a later run than the OpenStack credential —
with a "Kubernetes" section in the README.  With an age public key every file
of the bundle is also packed into ``bundle.tar.age``, encrypted to that key
(pyrage) and re-packed whenever a file changes, which is what may be
delivered: ``age -d -i key.txt bundle.tar.age | tar x``.  On removal the
member's folder moves to ``members-removed/`` keeping only ``clouds.yaml`` and
``kubeconfig``: the revoked credential and token, so ``tenants verify`` can
prove Keystone and the Kubernetes API refuse them.

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
KUBECONFIG = "kubeconfig"
README = "README.md"
KUBE_SECTION = "## Kubernetes"
BUNDLE_FILES = ("clouds.yaml", README, KUBECONFIG)  # what the encrypted copy holds, if present


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
    readme = _readme(pilot_id, email, cloud_name, project, role, expires_at, support_contact)
    section = _kube_section(folder) if (folder / KUBECONFIG).is_file() else ""
    files = {
        "clouds.yaml": yaml.safe_dump(clouds, sort_keys=False).encode(),
        README: (readme + ("\n" + section if section else "")).encode(),
    }
    for name, data in files.items():
        _write(folder / name, data)
    _seal(folder, recipient)
    return folder


def write_member_kubeconfig(
    root: Path,
    *,
    pilot_id: str,
    email: str,
    kubeconfig_text: str,
    readme_section: str,
    recipient: str | None,
) -> Path:
    """Put the member's own ``kubeconfig`` and its README section into their bundle.

    ``readme_section`` starts with ``## Kubernetes`` and replaces an earlier
    one; the encrypted copy is re-packed with every file of the bundle.
    """
    folder = member_folder(root, pilot_id, email)
    _private_dirs(root, folder)
    _write(folder / KUBECONFIG, kubeconfig_text.encode())
    path = folder / README
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = text.split(KUBE_SECTION, 1)[0].rstrip()
    _write(path, ((head + "\n\n" if head else "") + readme_section).encode())
    _seal(folder, recipient)
    return folder / KUBECONFIG


def _kube_section(folder: Path) -> str:
    try:
        text = (folder / README).read_text(encoding="utf-8")
    except OSError:
        return ""
    return KUBE_SECTION + text.split(KUBE_SECTION, 1)[1] if KUBE_SECTION in text else ""


def _seal(folder: Path, recipient: str | None) -> None:
    """(Re-)pack every bundle file into ``bundle.tar.age`` for ``recipient``; none without one."""
    encrypted = folder / ENCRYPTED_NAME
    if not recipient:
        encrypted.unlink(missing_ok=True)
        return
    files = {n: (folder / n).read_bytes() for n in BUNDLE_FILES if (folder / n).is_file()}
    _write(encrypted, pyrage.encrypt(_tar(files), [parse_recipient(recipient)]))


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
    """Keep only the revoked ``clouds.yaml`` and ``kubeconfig`` under ``members-removed/`` (for verify)."""
    live = member_folder(root, pilot_id, email)
    gone = member_folder(root, pilot_id, email, removed=True)
    if not live.is_dir():
        return
    _private_dirs(root, gone)
    for name in ("clouds.yaml", KUBECONFIG):
        if (live / name).is_file():
            os.replace(live / name, gone / name)
        else:
            (gone / name).unlink(missing_ok=True)  # an older removal's, not this one's
    shutil.rmtree(live)


def removed_kubeconfigs(root: Path, pilot_id: str) -> dict[str, Path]:
    """email -> the revoked ``kubeconfig`` of each removed member whose bundle is kept."""
    base = root / pilot_id / "members-removed"
    return {
        folder.name: folder / KUBECONFIG
        for folder in (sorted(base.iterdir()) if base.is_dir() else [])
        if (folder / KUBECONFIG).is_file()
    }


def removed_credentials(root: Path, pilot_id: str) -> dict[str, dict[str, str]]:
    """email -> revoked credential of each removed member whose bundle is kept."""
    base = root / pilot_id / "members-removed"
    out = {}
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        credential = read_member_credential(folder)
        if credential:
            out[folder.name] = credential
    return out
