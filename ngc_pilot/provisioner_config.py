"""The provisioning services' one argument: what every tenant operation needs.

Why this exists: provisioning, the lifecycle, metering and the capacity
snapshot all need the same things (the database, the tenant and lifecycle
policies, a way to reach the cloud, where researcher bundles go, who acts), and
the entry point (CLI, TUI, scheduler) builds them once and passes them down.
It deliberately holds no behaviour beyond loading the shipped lifecycle policy
when none was given; it builds no settings and opens no connection itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from policies.lifecycle import LifecyclePolicy, load_lifecycle_policy
from policies.tenancy import TenantPolicy
from provisioner.backend import CloudBackend

if TYPE_CHECKING:
    from provisioner.kubernetes.backend import KubernetesBackend


@dataclass
class Provisioner:
    """What the service needs: database, policy, a way to get a backend, where bundles go."""

    engine: Engine
    tenant_policy: TenantPolicy
    backend_factory: Callable[[], CloudBackend]
    cloud: str
    environments_dir: Path
    actor: str
    # Names the data-access role in every desired state; None: the shipped policy.
    lifecycle_policy: LifecyclePolicy | None = None
    prices_file: Path | None = None  # for final invoices; None: the shipped price list
    # The bastion's allow-list of members' SSH keys; None: <environments>/../bastion/authorized_keys.
    bastion_keys_file: Path | None = None
    # The Kubernetes platform's backend; None: no cluster configured (OpenStack only).
    kube_backend_factory: Callable[[], KubernetesBackend] | None = None

    def bastion_keys(self) -> Path:
        return (
            self.bastion_keys_file or self.environments_dir.parent / "bastion" / "authorized_keys"
        )

    def lifecycle(self) -> LifecyclePolicy:
        if self.lifecycle_policy is None:
            self.lifecycle_policy = load_lifecycle_policy()
        return self.lifecycle_policy
