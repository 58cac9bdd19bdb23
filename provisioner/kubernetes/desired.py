"""What ngc-pilot wants in Kubernetes for one pilot, from the pilot and the tenancy policy (pure).

The namespace quota is derived from the pilot's OpenStack size template, not
kept as a second set of numbers in ``tenant_sizes.yaml``: a pilot's size is
one decision (how much of the machine it may hold), and the operators tune one
table.  The mapping:

* ``requests.cpu`` = ``limits.cpu`` = ``cores``; ``requests.memory`` =
  ``limits.memory`` = ``ram_mb`` MiB (limits equal to requests: the quota is a
  promise the capacity gate adds up against the nodes, so no overcommit);
* ``requests.nvidia.com/gpu`` = ``gpus``;
* ``requests.storage`` = ``gigabytes`` GiB and ``persistentvolumeclaims`` =
  ``volumes`` (claims are the namespace's volumes);
* ``pods`` = 10 × ``instances`` (containers are much smaller than servers;
  the cpu and memory quota is what really bounds them);
* ``services.loadbalancers`` and ``services.nodeports`` = 0: access goes
  through the operations bastion only, as for OpenStack (no floating IPs).

What this module deliberately does not do: build the API objects
(``manifests``) or talk to a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from policies.tenancy import SizeTemplate, TenantPolicy
from provisioner.kubernetes.names import (
    PI_SERVICE_ACCOUNT,
    member_service_account,
    namespace_name,
)

PODS_PER_INSTANCE = 10

# LimitRange defaults for a container that states no requests or limits: small,
# so a pod without requests is still admitted within the quota.
DEFAULT_LIMITS = {"cpu": "1", "memory": "2Gi"}
DEFAULT_REQUESTS = {"cpu": "250m", "memory": "512Mi"}


@dataclass(frozen=True)
class NamespaceTenant:
    """Everything ngc-pilot will create in Kubernetes for one pilot."""

    pilot_id: str
    pilot_name: str
    size: str
    namespace: str
    quota: dict[str, str]
    limit_defaults: dict[str, str]
    limit_default_requests: dict[str, str]
    service_accounts: tuple[str, ...]  # the PI's first, then one per member
    role: str
    role_binding: str
    bastion_cidr: str
    expires_at: datetime  # UTC-aware: end of the tenant's access (and of its token)
    # (e-mail, service account) of each member besides the PI, in service_accounts' order
    member_accounts: tuple[tuple[str, str], ...] = ()
    # the service accounts of members whose role is ``reader``: bound to the
    # read-only role instead of the researchers' role
    reader_accounts: tuple[str, ...] = ()
    reader_role: str = "ngc-reader"
    reader_binding: str = "ngc-readers"

    @property
    def pi_service_account(self) -> str:
        return self.service_accounts[0]

    def member_of(self, service_account: str) -> str | None:
        """The e-mail of the member whose service account this is; None for the PI's."""
        return dict((sa, email) for email, sa in self.member_accounts).get(service_account)


def namespace_quota(template: SizeTemplate) -> dict[str, str]:
    """The ResourceQuota ``hard`` map of a size (see the module docstring)."""
    memory = f"{template.ram_mb}Mi"
    return {
        "requests.cpu": str(template.cores),
        "limits.cpu": str(template.cores),
        "requests.memory": memory,
        "limits.memory": memory,
        "requests.nvidia.com/gpu": str(template.gpus),
        "requests.storage": f"{template.gigabytes}Gi",
        "persistentvolumeclaims": str(template.volumes),
        "pods": str(template.instances * PODS_PER_INSTANCE),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def desired_namespace(
    *,
    pilot_id: str,
    pilot_name: str,
    size: str,
    end: date,
    policy: TenantPolicy,
    members: tuple[str, ...] = (),
    readers: tuple[str, ...] = (),
) -> NamespaceTenant:
    """The namespace tenant of a pilot; ``members``: e-mails of members besides the PI,
    ``readers``: those of them whose role is ``reader`` (read-only in the namespace)."""
    namespace = namespace_name(pilot_id)
    accounts = [PI_SERVICE_ACCOUNT]
    member_accounts = []
    for email in members:
        name = member_service_account(email)
        if name not in accounts:
            accounts.append(name)
            member_accounts.append((email.lower(), name))
    return NamespaceTenant(
        pilot_id=pilot_id,
        pilot_name=pilot_name,
        size=size,
        namespace=namespace,
        quota=namespace_quota(policy.sizes[size]),
        limit_defaults=dict(DEFAULT_LIMITS),
        limit_default_requests=dict(DEFAULT_REQUESTS),
        service_accounts=tuple(accounts),
        role="ngc-researcher",
        role_binding="ngc-researchers",
        bastion_cidr=policy.tenancy.ops_cidr,
        # Access ends at the end of the planned last day (UTC), as for OpenStack.
        expires_at=datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=UTC),
        member_accounts=tuple(member_accounts),
        reader_accounts=tuple(
            sa for email, sa in member_accounts if email in {r.lower() for r in readers}
        ),
    )
