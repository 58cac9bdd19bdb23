"""A researcher's first step, through their own environment bundle: boot a server.

The demo uses it to show that the bundle works as handed over (the
application credential in ``clouds.yaml``, scoped to the tenant's project
only) and to give metering real usage to count.  It acts with exactly the
bundle's identity: the bundle's ``clouds.yaml`` is read explicitly, never the
machine's ``clouds.yaml`` or ``OS_*`` variables.

What this module deliberately does not do: act as the admin, or clean up the
server (the tenant's teardown removes it with everything else).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from provisioner.backend import CloudError
from provisioner.openstack.connection import connect, translate_error


@dataclass(frozen=True)
class BootedServer:
    id: str
    name: str
    flavor: str
    status: str
    seconds: float


def boot_server(
    bundle: Path, name: str, *, flavor: str, image: str, timeout: float = 120.0
) -> BootedServer:
    """Boot ``name`` in the bundle's project on its own network; wait until ACTIVE."""
    clouds_file = bundle / "clouds.yaml"
    started = time.perf_counter()
    try:
        conn = connect(_cloud_name(clouds_file), clouds_file)
        network = next(iter(conn.network.networks(project_id=conn.current_project_id)), None)
        if network is None:
            raise CloudError(f"the project of {bundle.name} has no network")
        server = conn.compute.find_server(name)
        if server is None:
            server = conn.compute.create_server(
                name=name,
                flavor_id=conn.compute.find_flavor(flavor, ignore_missing=False).id,
                image_id=conn.image.find_image(image, ignore_missing=False).id,
                networks=[{"uuid": network.id}],
            )
        server = conn.compute.wait_for_server(server, wait=int(timeout))
    except CloudError:
        raise
    except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds
        raise translate_error(exc, f"boot server {name}") from exc
    return BootedServer(server.id, name, flavor, server.status, time.perf_counter() - started)


def _cloud_name(clouds_file: Path) -> str:
    import yaml

    data = yaml.safe_load(clouds_file.read_text()) or {}
    names = list((data.get("clouds") or {}).keys())
    if len(names) != 1:
        raise CloudError(f"{clouds_file} should hold exactly one cloud, it holds {len(names)}")
    return names[0]
