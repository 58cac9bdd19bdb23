"""Build a pilot's :class:`DesiredTenant` from the pilot and the tenancy policy (pure).

A suspended tenant wants its compute and volume quotas at zero; the caller
says whether the tenant is suspended and whether it has data access.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from policies.tenancy import TenantPolicy
from provisioner.model import MANAGED_TAG, PILOT_TAG_PREFIX, DesiredTenant, IngressRule


def project_name(policy: TenantPolicy, pilot_id: str) -> str:
    return f"{policy.tenancy.project_prefix}{pilot_id.lower()}"


def desired_tenant(
    *,
    pilot_id: str,
    pilot_name: str,
    pi_email: str,
    size: str,
    cidr: str,
    end: date,
    policy: TenantPolicy,
    suspended: bool = False,
    data_access: bool = False,
    data_access_role: str | None = None,
) -> DesiredTenant:
    t = policy.tenancy
    template = policy.sizes[size]
    project = project_name(policy, pilot_id)
    ingress = tuple(
        IngressRule("tcp", port, port, t.ops_cidr) for port in sorted(set(t.ops_ingress_ports))
    )
    return DesiredTenant(
        pilot_id=pilot_id,
        size=size,
        domain=t.domain,
        project=project,
        description=f"NGC pilot {pilot_id}: {pilot_name}"[:255],
        tags=(MANAGED_TAG, f"{PILOT_TAG_PREFIX}{pilot_id}"),
        group=f"{project}-members",
        member_role=t.member_role,
        pi_user=pi_email.lower(),
        pi_email=pi_email,
        identity=t.identity,
        compute_quota=_zero(template.compute_quota()) if suspended else template.compute_quota(),
        network_quota=template.network_quota(),
        volume_quota=_zero(template.volume_quota()) if suspended else template.volume_quota(),
        network=f"{project}-net",
        subnet=f"{project}-subnet",
        cidr=cidr,
        dns_nameservers=tuple(t.dns_nameservers),
        router=f"{project}-router",
        external_network=t.external_network if t.router_external_gateway else None,
        security_group=f"{project}-ops-access",
        ingress=ingress,
        app_credential=f"{project}-pi",
        # Access ends at the end of the planned last day (UTC).
        expires_at=datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=UTC),
        flavor=template.flavor,
        suspended=suspended,
        data_access=data_access,
        data_access_role=data_access_role,
    )


def _zero(quota: dict[str, int]) -> dict[str, int]:
    return dict.fromkeys(quota, 0)
