"""Tenant size templates and tenancy rules (``tenant_sizes.yaml``), and the pure
decisions made from them: which size a pilot gets, and which subnet.

Like the selection policy, a bad file is refused with every problem and its
line.  Nothing here talks to a cloud.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.platforms import PlatformRules
from policies.policyfile import parse_model, read_text

NonNegative = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SizeTemplate(_Frozen):
    """Quotas of one tenant size (OpenStack quota names, in OpenStack's units)."""

    cores: NonNegative
    ram_mb: NonNegative
    instances: NonNegative
    volumes: NonNegative
    gigabytes: NonNegative
    networks: NonNegative
    subnets: NonNegative
    routers: NonNegative
    ports: NonNegative
    security_groups: NonNegative
    security_group_rules: NonNegative
    floating_ips: NonNegative
    gpus: NonNegative = 0
    flavor: str

    def compute_quota(self) -> dict[str, int]:
        return {"cores": self.cores, "ram": self.ram_mb, "instances": self.instances}

    def network_quota(self) -> dict[str, int]:
        return {
            "networks": self.networks,
            "subnets": self.subnets,
            "routers": self.routers,
            "ports": self.ports,
            "security_groups": self.security_groups,
            "security_group_rules": self.security_group_rules,
            "floating_ips": self.floating_ips,
        }

    def volume_quota(self) -> dict[str, int]:
        return {"volumes": self.volumes, "gigabytes": self.gigabytes}


class Tenancy(_Frozen):
    domain: str
    project_prefix: str = "ngc-"
    member_role: str = "member"
    network_pool: str
    subnet_prefix_length: Annotated[int, Field(ge=8, le=29)] = 24
    dns_nameservers: list[str] = []
    router_external_gateway: bool = False
    external_network: str | None = None
    ops_cidr: str
    ops_ingress_ports: list[Annotated[int, Field(ge=1, le=65535)]] = [22]
    identity: Literal["local", "federated"] = "local"
    federated_idp: str | None = None
    support_contact: str

    @field_validator("network_pool", "ops_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not a network in CIDR notation: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Tenancy:
        pool = ipaddress.ip_network(self.network_pool)
        if self.subnet_prefix_length < pool.prefixlen:
            raise ValueError(
                f"subnet_prefix_length /{self.subnet_prefix_length} is larger than the pool {pool}"
            )
        if self.router_external_gateway and not self.external_network:
            raise ValueError("router_external_gateway needs external_network")
        if self.identity == "federated" and not self.federated_idp:
            raise ValueError("identity 'federated' needs federated_idp")
        return self


class TenantPolicy(_Frozen):
    version: Literal[1]
    sizes: dict[str, SizeTemplate]
    tenancy: Tenancy
    # Which platforms a pilot gets from its task types (``policies.platforms``).
    platforms: PlatformRules = PlatformRules()
    digest: str = ""

    @field_validator("sizes")
    @classmethod
    def _some(cls, value: dict[str, SizeTemplate]) -> dict[str, SizeTemplate]:
        if not value:
            raise ValueError("define at least one size")
        return value


def default_tenant_policy_path() -> Path:
    return Path(str(resources.files("policies").joinpath("tenant_sizes.yaml")))


def parse_tenant_policy(text: str, source: str = "tenant_sizes.yaml") -> TenantPolicy:
    """Validate policy ``text``; raise :class:`InputProblems` listing every problem."""
    return parse_model(text, source, TenantPolicy)


def load_tenant_policy(path: Path | str | None = None) -> TenantPolicy:
    file = Path(path) if path is not None else default_tenant_policy_path()
    text = read_text(file)
    return parse_tenant_policy(text, source=str(file))


def choose_size(policy: TenantPolicy, vcpus: int, ram_gb: int, gpus: int) -> str:
    """The smallest size covering the request (GPU requests get a GPU size)."""
    candidates = [
        (name, size) for name, size in policy.sizes.items() if (size.gpus > 0) == (gpus > 0)
    ] or list(policy.sizes.items())
    candidates.sort(key=lambda item: (item[1].cores, item[1].ram_mb, item[0]))
    for name, size in candidates:
        if size.cores >= vcpus and size.ram_mb >= ram_gb * 1024 and size.gpus >= gpus:
            return name
    return candidates[-1][0]


def allocate_cidr(policy: TenantPolicy, taken: Iterable[str]) -> str:
    """The lowest subnet of the pool that overlaps none of ``taken``."""
    pool = ipaddress.ip_network(policy.tenancy.network_pool)
    used = [ipaddress.ip_network(c) for c in taken]
    for subnet in pool.subnets(new_prefix=policy.tenancy.subnet_prefix_length):
        if not any(subnet.overlaps(u) for u in used):
            return str(subnet)
    raise ValueError(f"the network pool {pool} is exhausted ({len(used)} subnets in use)")
