"""The OpenStack backend: the only module that imports openstacksdk.

Connections are built explicitly from a ``clouds.yaml`` entry with
``load_envvars=False``, so ``OS_*`` variables or a ``./clouds.yaml`` in the
working directory can never silently change which identity acts (a tenant
connection that quietly became admin would hide isolation bugs).

Every resource is looked up by its stable name inside the pilot's project
before anything is created.  SDK exceptions are translated into
:class:`provisioner.backend.CloudError` here; no payload or secret goes into a
message.
"""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import openstack
from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as os_exceptions
from openstack.config import loader

from provisioner.backend import CapacityLine, CloudError, Probe, StepResult
from provisioner.model import Change, DesiredTenant, ObservedRule, ObservedTenant
from provisioner.secrets import Secret
from provisioner.usage import UsageSample

_TRANSIENT = (
    os_exceptions.HttpException,
    ks_exceptions.ConnectFailure,
    ks_exceptions.ConnectTimeout,
    ks_exceptions.ServiceUnavailable,
)


def _translate(exc: Exception, what: str) -> CloudError:
    status = getattr(exc, "status_code", None)
    # 409: something changed beneath us (another worker created the shared
    # domain first, say); re-observing and re-planning resolves it.
    transient = isinstance(exc, ks_exceptions.ConnectFailure | ks_exceptions.ConnectTimeout) or (
        status is not None and (int(status) >= 500 or int(status) == 409)
    )
    return CloudError(f"{what} failed: {type(exc).__name__} (HTTP {status})", transient=transient)


def cloud_config(cloud: str, clouds_file: Path | None) -> dict[str, Any]:
    """The named entry of ``clouds_file`` (auth, region, interface), read explicitly."""
    config = loader.OpenStackConfig(
        config_files=[str(clouds_file)] if clouds_file else None,
        load_yaml_config=True,
        load_envvars=False,
    )
    region = config.get_one(cloud=cloud)
    return region.config


def connect(cloud: str, clouds_file: Path | None) -> openstack.connection.Connection:
    config = loader.OpenStackConfig(
        config_files=[str(clouds_file)] if clouds_file else None,
        load_yaml_config=True,
        load_envvars=False,
    )
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


def connect_with(
    auth: dict[str, Any], region: str | None, auth_type: str = "password"
) -> openstack.connection.Connection:
    """A connection with exactly this identity (no clouds.yaml, no environment)."""
    return openstack.connect(
        auth=auth,
        auth_type=auth_type,
        region_name=region,
        load_yaml_config=False,
        load_envvars=False,
        identity_api_version="3",
    )


def _first(items: Any) -> Any:
    return next(iter(items), None)


def _rule(r: Any) -> ObservedRule:
    return ObservedRule(
        id=r.id,
        direction=r.direction,
        protocol=r.protocol,
        port_min=r.port_range_min,
        port_max=r.port_range_max,
        remote_cidr=r.remote_ip_prefix,
        remote_group=r.remote_group_id,
        ethertype=r.ether_type,
    )


class OpenStackBackend:
    """CloudBackend over openstacksdk, acting as the ``cloud`` entry (an admin)."""

    def __init__(self, cloud: str, clouds_file: Path | None = None):
        self.cloud = cloud
        self.clouds_file = clouds_file
        try:
            self.conn = connect(cloud, clouds_file)
            self._config = cloud_config(cloud, clouds_file)
        except Exception as exc:  # noqa: BLE001 - config errors come in many types
            raise CloudError(
                f"cannot load cloud {cloud!r} from {clouds_file or 'clouds.yaml'}: {exc}"
            ) from exc
        self.mutating_calls = 0
        self._ids: dict[str, str] = {}
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ helpers

    def auth_url(self) -> str:
        return str(self._config["auth"]["auth_url"])

    def region(self) -> str | None:
        return self._config.get("region_name")

    def _domain(self, desired: DesiredTenant) -> Any:
        return self.conn.identity.find_domain(desired.domain)

    def _project(self, desired: DesiredTenant, domain_id: str | None = None) -> Any:
        domain_id = domain_id or (self._domain(desired) or {}).get("id")
        if not domain_id:
            return None
        return self.conn.identity.find_project(desired.project, domain_id=domain_id)

    # ------------------------------------------------------------------ observe

    def observe(self, desired: DesiredTenant, *, deep: bool = False) -> ObservedTenant:
        """What exists for ``desired``; ``deep`` also lists researchers' servers, volumes, ports."""
        try:
            return self._observe(desired, deep)
        except _TRANSIENT as exc:
            raise _translate(exc, f"observing {desired.project}") from exc

    def _cached_domain(self, desired: DesiredTenant) -> Any:
        key = f"domain:{desired.domain}"
        if key not in self._cache:
            domain = _first(self.conn.identity.domains(name=desired.domain))
            if domain is None:
                return None
            self._cache[key] = domain
        return self._cache[key]

    def _cached_role(self, name: str) -> Any:
        # A missing role is looked up again next time: operations may create it
        # while this backend lives (the data-access role, say).
        key = f"role:{name}"
        if self._cache.get(key) is None:
            self._cache[key] = _first(self.conn.identity.roles(name=name))
        return self._cache[key]

    def _observe(self, desired: DesiredTenant, deep: bool) -> ObservedTenant:
        # One listing call per resource (filtered by name and project) instead of
        # the SDK's find_*, which first tries the name as an id: a no-op
        # re-apply is dominated by these reads.
        ident, net = self.conn.identity, self.conn.network
        domain = self._cached_domain(desired)
        if domain is None:
            return ObservedTenant()
        project = _first(ident.projects(name=desired.project, domain_id=domain.id))
        group = _first(ident.groups(name=desired.group, domain_id=domain.id))
        user = (
            _first(ident.users(name=desired.pi_user, domain_id=domain.id))
            if desired.identity == "local"
            else None
        )
        if project is None:
            return ObservedTenant(
                domain_id=domain.id,
                group_id=group.id if group else None,
                user_id=user.id if user else None,
            )
        role = self._cached_role(desired.member_role)
        has_role = bool(
            group and role and ident.validate_group_has_project_role(project, group, role)
        )
        in_group = bool(user and group and ident.check_user_in_group(user, group))
        has_data_access, missing_roles = False, ()
        if desired.data_access_role:
            data_role = self._cached_role(desired.data_access_role)
            if data_role is None:
                missing_roles = (desired.data_access_role,)
            elif group is not None:
                has_data_access = bool(
                    ident.validate_group_has_project_role(project, group, data_role)
                )
        compute = self.conn.compute.get_quota_set(project.id)
        volume = self.conn.block_storage.get_quota_set(project.id)
        network_quota = net.get_quota(project.id)
        network = _first(net.networks(name=desired.network, project_id=project.id))
        subnet = (
            _first(net.subnets(name=desired.subnet, project_id=project.id)) if network else None
        )
        router = _first(net.routers(name=desired.router, project_id=project.id))
        has_interface = False
        if router is not None and subnet is not None:
            has_interface = any(
                any(ip.get("subnet_id") == subnet.id for ip in (port.fixed_ips or []))
                for port in net.ports(device_id=router.id)
            )
        gateway = None
        if router is not None and router.external_gateway_info:
            gateway = net.get_network(router.external_gateway_info["network_id"]).name
        groups = list(net.security_groups(project_id=project.id))
        ops = next((g for g in groups if g.name == desired.security_group), None)
        defaults = {g.id for g in groups if g.name == "default"}
        all_rules = list(net.security_group_rules(project_id=project.id)) if groups else []
        rules = tuple(
            _rule(r) for r in all_rules if ops is not None and r.security_group_id == ops.id
        )
        default_rules = tuple(_rule(r) for r in all_rules if r.security_group_id in defaults)
        app_credential_id = None
        if user is not None:
            try:
                cred = _first(ident.application_credentials(user, name=desired.app_credential))
                app_credential_id = cred.id if cred else None
            except os_exceptions.ForbiddenException:
                app_credential_id = self._ids.get(f"appcred:{desired.project}")
        servers: tuple[str, ...] = ()
        volumes: tuple[str, ...] = ()
        ports: tuple[str, ...] = ()
        if deep:
            servers = tuple(
                s.id for s in self.conn.compute.servers(all_projects=True, project_id=project.id)
            )
            volumes = tuple(
                v.id
                for v in self.conn.block_storage.volumes(all_projects=True, project_id=project.id)
            )
            ports = tuple(
                p.id
                for p in net.ports(project_id=project.id)
                if not (p.device_owner or "").startswith(
                    ("network:router_interface", "network:dhcp", "network:router")
                )
            )
        return ObservedTenant(
            domain_id=domain.id,
            project_id=project.id,
            project_enabled=project.is_enabled,
            project_tags=tuple(project.tags or ()),
            project_description=project.description,
            group_id=group.id if group else None,
            group_has_role=has_role,
            group_has_data_access=has_data_access,
            missing_roles=missing_roles,
            user_id=user.id if user else None,
            user_in_group=in_group,
            compute_quota={k: getattr(compute, k) for k in desired.compute_quota},
            network_quota={k: getattr(network_quota, k) for k in desired.network_quota},
            volume_quota={k: getattr(volume, k) for k in desired.volume_quota},
            network_id=network.id if network else None,
            subnet_id=subnet.id if subnet else None,
            subnet_cidr=subnet.cidr if subnet else None,
            router_id=router.id if router else None,
            router_has_interface=has_interface,
            router_gateway=gateway,
            security_group_id=ops.id if ops else None,
            security_group_rules=rules,
            default_group_rules=default_rules,
            app_credential_id=app_credential_id,
            servers=servers,
            volumes=volumes,
            ports=ports,
        )

    # ------------------------------------------------------------------ execute

    def execute(self, change: Change, desired: DesiredTenant) -> StepResult:
        method = getattr(self, f"_{change.action}_{change.resource}")
        try:
            result = method(change, desired)
        except CloudError:
            raise
        except (os_exceptions.SDKException, ks_exceptions.ClientException) as exc:
            raise _translate(exc, change.step) from exc
        self.mutating_calls += 1
        return result

    def _ids_for(self, desired: DesiredTenant) -> tuple[Any, Any]:
        domain = self._domain(desired)
        if domain is None:
            raise CloudError(f"domain {desired.domain} is missing")
        project = self.conn.identity.find_project(desired.project, domain_id=domain.id)
        if project is None:
            raise CloudError(f"project {desired.project} is missing")
        return domain, project

    def _create_domain(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain = self.conn.identity.create_domain(
            name=desired.domain, description="ngc-pilot tenants"
        )
        return StepResult(domain.id)

    def _create_project(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain = self._domain(desired)
        project = self.conn.identity.create_project(
            name=desired.project,
            domain_id=domain.id,
            description=desired.description,
            tags=list(desired.tags),
            is_enabled=change.detail.get("enabled", True),
        )
        return StepResult(project.id)

    def _update_project(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        attrs = dict(change.detail)
        if "enabled" in attrs:
            attrs["is_enabled"] = attrs.pop("enabled")
        self.conn.identity.update_project(project, **attrs)
        return StepResult(project.id)

    def _create_group(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain = self._domain(desired)
        group = self.conn.identity.create_group(
            name=desired.group, domain_id=domain.id, description=f"Members of {desired.project}"
        )
        return StepResult(group.id)

    def _role_and_group(self, change: Change, desired: DesiredTenant) -> tuple[Any, Any, Any]:
        domain, project = self._ids_for(desired)
        group = self.conn.identity.find_group(
            change.detail.get("group", desired.group), domain_id=domain.id, ignore_missing=False
        )
        name = change.detail.get("role", desired.member_role)
        role = self._cached_role(name)
        if role is None:
            # Permanent: a global role is operations' to create, with the
            # service policy that gives it meaning.
            raise CloudError(
                f"{change.step} failed: the Keystone role {name!r} does not exist; "
                f"operations create it (openstack role create {name})"
            )
        return project, group, role

    def _create_role_assignment(self, change: Change, desired: DesiredTenant) -> StepResult:
        project, group, role = self._role_and_group(change, desired)
        self.conn.identity.assign_project_role_to_group(project, group, role)
        return StepResult(group.id)

    def _delete_role_assignment(self, change: Change, desired: DesiredTenant) -> StepResult:
        project, group, role = self._role_and_group(change, desired)
        self.conn.identity.unassign_project_role_from_group(project, group, role)
        return StepResult(group.id)

    def _create_user(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain, project = self._ids_for(desired)
        user = self.conn.identity.create_user(
            name=desired.pi_user,
            domain_id=domain.id,
            email=desired.pi_email,
            default_project_id=project.id,
            password=pysecrets.token_urlsafe(32),  # never stored; reset when a credential is made
            is_enabled=True,
            description=f"Principal investigator of {desired.project}",
        )
        return StepResult(user.id)

    def _create_group_membership(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain = self._domain(desired)
        user = self.conn.identity.find_user(
            desired.pi_user, domain_id=domain.id, ignore_missing=False
        )
        group = self.conn.identity.find_group(
            desired.group, domain_id=domain.id, ignore_missing=False
        )
        self.conn.identity.add_user_to_group(user, group)
        return StepResult(user.id)

    def _update_compute_quota(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        # Nova refuses a limit below what the project uses (HTTP 400) unless
        # forced.  A suspension zeroes the quotas whatever runs; for a running
        # tenant the refusal stands, for a person to decide.
        extra = {"force": True} if desired.suspended else {}
        self.conn.compute.update_quota_set(project.id, **change.detail, **extra)
        return StepResult(project.id)

    def _update_network_quota(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        self.conn.network.update_quota(project.id, **change.detail)
        return StepResult(project.id)

    def _update_volume_quota(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        self.conn.block_storage.update_quota_set(project.id, **change.detail)
        return StepResult(project.id)

    def _create_network(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        network = self.conn.network.create_network(
            name=desired.network, project_id=project.id, description=desired.description
        )
        self.conn.network.set_tags(network, list(desired.tags))
        return StepResult(network.id)

    def _create_subnet(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        network = self.conn.network.find_network(
            desired.network, project_id=project.id, ignore_missing=False
        )
        subnet = self.conn.network.create_subnet(
            name=desired.subnet,
            network_id=network.id,
            project_id=project.id,
            ip_version=4,
            cidr=desired.cidr,
            dns_nameservers=list(desired.dns_nameservers),
            enable_dhcp=True,
        )
        self.conn.network.set_tags(subnet, list(desired.tags))
        return StepResult(subnet.id)

    def _gateway_info(self, desired: DesiredTenant) -> dict[str, Any] | None:
        if not desired.external_network:
            return None
        external = self.conn.network.find_network(desired.external_network, ignore_missing=False)
        return {"network_id": external.id}

    def _create_router(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        attrs: dict[str, Any] = {"name": desired.router, "project_id": project.id}
        gateway = self._gateway_info(desired)
        if gateway:
            attrs["external_gateway_info"] = gateway
        router = self.conn.network.create_router(**attrs)
        self.conn.network.set_tags(router, list(desired.tags))
        return StepResult(router.id)

    def _update_router(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        router = self.conn.network.find_router(
            desired.router, project_id=project.id, ignore_missing=False
        )
        self.conn.network.update_router(
            router, external_gateway_info=self._gateway_info(desired) or {}
        )
        return StepResult(router.id)

    def _create_router_interface(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        router = self.conn.network.find_router(
            desired.router, project_id=project.id, ignore_missing=False
        )
        subnet = self.conn.network.find_subnet(
            desired.subnet, project_id=project.id, ignore_missing=False
        )
        self.conn.network.add_interface_to_router(router, subnet_id=subnet.id)
        return StepResult(router.id)

    def _create_security_group(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        group = self.conn.network.create_security_group(
            name=desired.security_group,
            project_id=project.id,
            description="ngc-pilot: ingress only from the operations bastion",
        )
        self.conn.network.set_tags(group, list(desired.tags))
        return StepResult(group.id)

    def _create_security_group_rule(self, change: Change, desired: DesiredTenant) -> StepResult:
        _, project = self._ids_for(desired)
        group = self.conn.network.find_security_group(
            desired.security_group, project_id=project.id, ignore_missing=False
        )
        d = change.detail
        rule = self.conn.network.create_security_group_rule(
            security_group_id=group.id,
            project_id=project.id,
            direction="ingress",
            ether_type="IPv4",
            protocol=d["protocol"],
            port_range_min=d["port_min"],
            port_range_max=d["port_max"],
            remote_ip_prefix=d["remote_cidr"],
        )
        return StepResult(rule.id)

    def _delete_security_group_rule(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.network.delete_security_group_rule(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _create_application_credential(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain, project = self._ids_for(desired)
        user = self.conn.identity.find_user(
            desired.pi_user, domain_id=domain.id, ignore_missing=False
        )
        # Keystone lets only the user create its own credential: give the user a
        # fresh one-time password, act as the user once, and forget the password.
        password = pysecrets.token_urlsafe(32)
        self.conn.identity.update_user(user, password=password)
        credential = None
        # Keystone revokes the user's tokens on a password change with one-second
        # resolution, so a token issued in that same second is refused (401):
        # wait for the next second and try again.
        for attempt in range(4):
            try:
                credential = self._credential_as_user(
                    desired, domain.id, project.id, user.id, password
                )
                break
            except os_exceptions.HttpException as exc:
                if getattr(exc, "status_code", None) != 401 or attempt == 3:
                    raise
                time.sleep(1.1)
            except ks_exceptions.Unauthorized:
                if attempt == 3:
                    raise
                time.sleep(1.1)
        del password
        self._ids[f"appcred:{desired.project}"] = credential.id
        return StepResult(
            credential.id,
            secret=Secret(credential.secret),
            extra={"user_id": user.id, "project_id": project.id},
        )

    def _credential_as_user(
        self, desired: DesiredTenant, domain_id: str, project_id: str, user_id: str, password: str
    ) -> Any:
        as_user = connect_with(
            {
                "auth_url": self.auth_url(),
                "username": desired.pi_user,
                "user_domain_id": domain_id,
                "password": password,
                "project_id": project_id,
            },
            self.region(),
        )
        try:
            existing = as_user.identity.find_application_credential(user_id, desired.app_credential)
            if existing is not None:
                as_user.identity.delete_application_credential(user_id, existing)
            return as_user.identity.create_application_credential(
                user_id,
                desired.app_credential,
                description=f"ngc-pilot credential for {desired.project}",
                expires_at=desired.expires_at.strftime("%Y-%m-%dT%H:%M:%S"),
                roles=[{"name": desired.member_role}],
                unrestricted=False,
            )
        finally:
            as_user.close()

    # ---------------------------------------------------------------- teardown

    def _delete_application_credential(self, change: Change, desired: DesiredTenant) -> StepResult:
        domain = self._domain(desired)
        user = (
            self.conn.identity.find_user(desired.pi_user, domain_id=domain.id) if domain else None
        )
        if user is not None:
            try:
                self.conn.identity.delete_application_credential(
                    user, change.detail["id"], ignore_missing=True
                )
            except os_exceptions.ForbiddenException:
                pass  # the user is deleted next, which removes its credentials
        return StepResult(change.detail["id"])

    def _delete_server(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.compute.delete_server(change.detail["id"], ignore_missing=True, force=True)
        server = self.conn.compute.find_server(change.detail["id"], all_projects=True)
        if server is not None:
            self.conn.compute.wait_for_delete(server, wait=120)
        return StepResult(change.detail["id"])

    def _delete_volume(self, change: Change, desired: DesiredTenant) -> StepResult:
        volume = self.conn.block_storage.find_volume(change.detail["id"], all_projects=True)
        if volume is not None:
            self.conn.block_storage.delete_volume(volume, ignore_missing=True, force=True)
            self.conn.block_storage.wait_for_delete(volume, wait=120)
        return StepResult(change.detail["id"])

    def _delete_router_interface(self, change: Change, desired: DesiredTenant) -> StepResult:
        try:
            self.conn.network.remove_interface_from_router(
                change.detail["router"], subnet=change.detail["subnet"]
            )
        except os_exceptions.NotFoundException:
            pass
        return StepResult(change.detail["router"])

    def _delete_router(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.network.delete_router(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_port(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.network.delete_port(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_subnet(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.network.delete_subnet(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_network(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.network.delete_network(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_security_group(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.network.delete_security_group(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_security_groups_of_project(
        self, change: Change, desired: DesiredTenant
    ) -> StepResult:
        for group in list(self.conn.network.security_groups(project_id=change.detail["project"])):
            self.conn.network.delete_security_group(group, ignore_missing=True)
        return StepResult(change.detail["project"])

    def _delete_user(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.identity.delete_user(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_group(self, change: Change, desired: DesiredTenant) -> StepResult:
        self.conn.identity.delete_group(change.detail["id"], ignore_missing=True)
        return StepResult(change.detail["id"])

    def _delete_project(self, change: Change, desired: DesiredTenant) -> StepResult:
        project_id = change.detail["id"]
        # Quotas are rows keyed by the project in each service; drop them too.
        for reset in (
            lambda: self.conn.compute.revert_quota_set(project_id),
            lambda: self.conn.network.delete_quota(project_id),
            lambda: self.conn.block_storage.revert_quota_set(project_id),
        ):
            try:
                reset()
            except (os_exceptions.SDKException, AttributeError):
                pass
        self.conn.identity.delete_project(project_id, ignore_missing=True)
        return StepResult(project_id)

    # ---------------------------------------------------------------- checks

    def leftovers(self, desired: DesiredTenant, project_id: str | None) -> list[str]:
        """Anything of the pilot still present in any service (empty = clean)."""
        found = []
        ident, net = self.conn.identity, self.conn.network
        domain = self._domain(desired)
        if domain is not None:
            if ident.find_project(desired.project, domain_id=domain.id):
                found.append(f"keystone project {desired.project}")
            if ident.find_group(desired.group, domain_id=domain.id):
                found.append(f"keystone group {desired.group}")
            if desired.identity == "local" and ident.find_user(
                desired.pi_user, domain_id=domain.id
            ):
                found.append(f"keystone user {desired.pi_user}")
        tag = next((t for t in desired.tags if t.startswith("ngc-pilot:")), None)
        if tag:
            for kind, items in (
                ("network", net.networks(tags=tag)),
                ("subnet", net.subnets(tags=tag)),
                ("router", net.routers(tags=tag)),
                ("security group", net.security_groups(tags=tag)),
            ):
                found.extend(f"neutron {kind} {item.id}" for item in items)
        if project_id:
            for kind, items in (
                ("port", net.ports(project_id=project_id)),
                ("network", net.networks(project_id=project_id)),
                # Listing security groups *filtered by project* makes Neutron
                # re-create that project's "default" group; list all, filter here.
                (
                    "security group",
                    (g for g in net.security_groups() if g.project_id == project_id),
                ),
                ("server", self.conn.compute.servers(all_projects=True, project_id=project_id)),
                (
                    "volume",
                    self.conn.block_storage.volumes(all_projects=True, project_id=project_id),
                ),
            ):
                found.extend(f"{kind} {item.id}" for item in items)
        return sorted(set(found))

    def capacity(self) -> list[CapacityLine]:
        """Placement inventory and usage of all compute nodes, with allocation ratios."""
        totals: dict[str, list[float]] = {}
        names = {"VCPU": "cores", "MEMORY_MB": "ram_mb", "DISK_GB": "disk_gb"}
        try:
            for provider in self.conn.placement.resource_providers():
                for inv in self.conn.placement.resource_provider_inventories(provider):
                    name = names.get(inv.resource_class)
                    if name is None:
                        continue
                    line = totals.setdefault(name, [0.0, 0.0, 0.0, 0.0, 0.0])
                    line[0] += (inv.total - inv.reserved) * inv.allocation_ratio
                    line[1] += inv.total
                    line[2] = inv.allocation_ratio
                    line[3] += inv.reserved
                usages = self.conn.placement.fetch_resource_provider_usages(provider).usages
                for resource_class, used in (usages or {}).items():
                    name = names.get(resource_class)
                    if name in totals:
                        totals[name][4] += used
        except _TRANSIENT as exc:
            raise _translate(exc, "reading Placement inventory") from exc
        return [
            CapacityLine(name, t, inv, ratio, reserved, used)
            for name, (t, inv, ratio, reserved, used) in sorted(totals.items())
        ]

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        """Metered usage of ``project_ids`` in ``[start, end)`` (see ``openstack_usage``)."""
        from provisioner.openstack_usage import OpenStackUsage

        if "usage" not in self._cache:
            self._cache["usage"] = OpenStackUsage(self.conn)
        return self._cache["usage"].usage(project_ids, start, end)

    def probe_isolation(
        self, pilot_id: str, credential: dict[str, str], targets: dict[str, dict[str, str]]
    ) -> list[Probe]:
        """Act as ``pilot_id``'s application credential and try to see every other tenant."""
        conn = connect_with(
            {
                "auth_url": self.auth_url(),
                "application_credential_id": credential["id"],
                "application_credential_secret": credential["secret"],
            },
            self.region(),
            auth_type="v3applicationcredential",
        )
        probes: list[Probe] = []
        try:
            for target, ids in sorted(targets.items()):
                probes.extend(self._probe_target(conn, pilot_id, target, ids))
            probes.extend(self._probe_admin_powers(conn, pilot_id))
        finally:
            conn.close()
        return probes

    def _probe_target(
        self, conn: Any, pilot_id: str, target: str, ids: dict[str, str]
    ) -> list[Probe]:
        checks = [
            ("network", lambda: conn.network.get_network(ids["network_id"])),
            ("subnet", lambda: conn.network.get_subnet(ids["subnet_id"])),
            ("router", lambda: conn.network.get_router(ids["router_id"])),
            ("security group", lambda: conn.network.get_security_group(ids["security_group_id"])),
            ("compute quota", lambda: conn.compute.get_quota_set(ids["project_id"])),
            ("usage", lambda: conn.compute.get_usage(ids["project_id"])),
            ("project", lambda: conn.identity.get_project(ids["project_id"])),
            (
                "servers",
                lambda: list(conn.compute.servers(project_id=ids["project_id"], all_projects=True)),
            ),
            (
                "volumes",
                lambda: list(
                    conn.block_storage.volumes(project_id=ids["project_id"], all_projects=True)
                ),
            ),
        ]
        out = []
        for what, call in checks:
            if not all(v for v in ids.values()):
                continue
            leaked, detail = self._attempt(call)
            if isinstance(leaked, list):
                leaked = any(
                    getattr(item, "project_id", None) == ids["project_id"] for item in leaked
                )
            out.append(Probe(pilot_id, target, what, bool(leaked), detail))
        return out

    def _probe_admin_powers(self, conn: Any, pilot_id: str) -> list[Probe]:
        out = []
        leaked, detail = self._attempt(
            lambda: conn.identity.create_project(name=f"ngc-probe-{pilot_id.lower()}")
        )
        if leaked is not False:
            self.conn.identity.delete_project(leaked.id, ignore_missing=True) if hasattr(
                leaked, "id"
            ) else None
        out.append(Probe(pilot_id, "(cloud)", "create project", leaked is not False, detail))
        leaked, detail = self._attempt(lambda: list(conn.compute.servers(all_projects=True)))
        own = conn.current_project_id
        if isinstance(leaked, list):
            leaked = any(getattr(s, "project_id", own) != own for s in leaked)
        out.append(Probe(pilot_id, "(cloud)", "list servers of all projects", bool(leaked), detail))
        leaked, detail = self._attempt(lambda: list(conn.identity.projects()))
        if isinstance(leaked, list):
            leaked = any(p.id != own for p in leaked)
        out.append(Probe(pilot_id, "(cloud)", "list all projects", bool(leaked), detail))
        return out

    @staticmethod
    def _attempt(call: Any) -> tuple[Any, str]:
        try:
            result = call()
        except os_exceptions.ForbiddenException:
            return False, "403 forbidden"
        except os_exceptions.NotFoundException:
            return False, "404 not found"
        except os_exceptions.HttpException as exc:
            code = getattr(exc, "status_code", "?")
            # Any refusal returns no data: 400 (e.g. Cinder refusing all_tenants to a
            # member), 401, 403, 404.  A 5xx is not proof of isolation: count it.
            return (
                (False, f"HTTP {code} refused")
                if code in (400, 401, 403, 404)
                else (True, f"HTTP {code}: unexpected")
            )
        if isinstance(result, list):
            return result, f"{len(result)} item(s) listed"
        return result, "visible"
