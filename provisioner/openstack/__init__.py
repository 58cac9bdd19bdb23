"""The OpenStack backend package: the only place openstacksdk and keystoneauth1 are imported.

One module per concern, the shape every backend package takes
(``provisioner.kubernetes`` will mirror it):

* ``connection`` — building connections explicitly from ``clouds.yaml``,
  what one admin connection remembers, and :func:`translate_error`, the one
  translation of SDK exceptions into :class:`provisioner.backend.CloudError`;
* ``observe`` — what exists for a pilot, whose it is, and leftovers;
* ``steps`` — one handler per planned change and the dispatch table ``STEPS``;
* ``capacity`` — Placement's inventory and use;
* ``usage`` — metered usage from Nova and Cinder;
* ``isolation`` — the isolation probe, acting as a tenant;
* ``workload`` — a researcher's first server, through their own bundle;
* ``backend`` — :class:`OpenStackBackend`, which wires them behind the
  protocols of ``provisioner.backend``.

Nothing here is imported by ``provisioner/__init__``: importing the pure
parts of the provisioner never loads the SDK.
"""

from provisioner.openstack.backend import OpenStackBackend
from provisioner.openstack.connection import cloud_config, connect, connect_with, translate_error

__all__ = ["OpenStackBackend", "cloud_config", "connect", "connect_with", "translate_error"]
