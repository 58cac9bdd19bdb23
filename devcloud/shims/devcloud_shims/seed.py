"""Seed devcloud's Keystone catalog and its shared cloud resources.

Run by the devcloud controller inside the virtualenv:

    python -m devcloud_shims.seed identity|resources < request.json

``identity``: the ``service`` project, one user per service holding the
``admin`` and ``service`` roles there, and a public+internal endpoint per API.
``resources``: the ngc.* flavors, a tiny public image, an external
``public`` network, and unlimited quotas for the admin project. Every step is get-or-create, so a re-run converges.
"""

import json
import sys

import openstack

SERVICE_USERS = ("nova", "neutron", "placement", "glance", "cinder")

# type -> (service name, port key, path)
CATALOG = {
    "compute": ("nova", "nova", "/v2.1"),
    "placement": ("placement", "placement", ""),
    "network": ("neutron", "neutron", ""),
    "image": ("glance", "glance", ""),
    "block-storage": ("cinderv3", "cinder", "/v3"),
}

# name -> (vCPUs, RAM MiB, root disk GB, extra specs). Matches the tenant sizes ngc-pilot uses;
# ngc:gpus is a count for metering only: no scheduler filter reads the "ngc" namespace.
FLAVORS = {
    "ngc.small": (2, 4 * 1024, 20, {}),
    "ngc.medium": (4, 16 * 1024, 40, {}),
    "ngc.large": (16, 64 * 1024, 80, {}),
    "ngc.gpu.1": (8, 64 * 1024, 80, {"ngc:gpus": "1"}),
}

IMAGE_NAME = "devcloud-tiny"
# Documentation range (RFC 5737): addresses here exist only as database rows.
PUBLIC_CIDR = "203.0.113.0/24"


def _connect(req):
    return openstack.connect(
        auth_url=req["auth_url"],
        username="admin",
        password=req["admin_password"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
        identity_api_version="3",
        load_yaml_config=False,
        load_envvars=False,
    )


def identity(conn, req):
    idp = conn.identity
    domain = idp.find_domain("default") or idp.find_domain("Default")
    project = idp.find_project("service", domain_id=domain.id) or idp.create_project(
        name="service", domain_id=domain.id, description="devcloud service users"
    )
    roles = {}
    for name in ("admin", "service"):
        roles[name] = idp.find_role(name) or idp.create_role(name=name)
    for name in SERVICE_USERS:
        user = idp.find_user(name, domain_id=domain.id)
        if user is None:
            user = idp.create_user(
                name=name,
                password=req["service_password"],
                domain_id=domain.id,
                default_project_id=project.id,
            )
        else:
            idp.update_user(user, password=req["service_password"])
        for role in roles.values():
            idp.assign_project_role_to_user(project, user, role)
    region = req.get("region", "RegionOne")
    for stype, (sname, port_key, path) in CATALOG.items():
        service = next(iter(idp.services(type=stype)), None) or idp.create_service(
            name=sname, type=stype, enabled=True
        )
        url = f"http://127.0.0.1:{req['ports'][port_key]}{path}"
        existing = {e.interface: e for e in idp.endpoints(service_id=service.id)}
        for interface in ("public", "internal"):
            ep = existing.get(interface)
            if ep is None:
                idp.create_endpoint(
                    service_id=service.id, interface=interface, url=url, region_id=region
                )
            elif ep.url != url:
                idp.update_endpoint(ep, url=url)
    return {"project": project.id}


def resources(conn, req):
    out = {"flavors": {}}
    for name, (vcpus, ram, disk, specs) in FLAVORS.items():
        flavor = conn.compute.find_flavor(name, ignore_missing=True)
        if flavor is None:
            flavor = conn.compute.create_flavor(
                name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True
            )
        if specs:
            conn.compute.create_flavor_extra_specs(flavor, specs)
        out["flavors"][name] = flavor.id

    image = conn.image.find_image(IMAGE_NAME, ignore_missing=True)
    if image is None:
        image = conn.image.create_image(
            name=IMAGE_NAME,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            data=b"devcloud: the fake virt driver never boots this\n".ljust(1024, b"\0"),
            allow_duplicates=False,
        )
    out["image"] = image.id

    net = conn.network.find_network("public", ignore_missing=True)
    if net is None:
        net = conn.network.create_network(
            name="public",
            is_router_external=True,
            is_shared=False,
            provider_network_type="flat",
            provider_physical_network="public",
        )
    subnet = conn.network.find_subnet("public-subnet", network_id=net.id, ignore_missing=True)
    if subnet is None:
        conn.network.create_subnet(
            name="public-subnet",
            network_id=net.id,
            ip_version=4,
            cidr=PUBLIC_CIDR,
            gateway_ip="203.0.113.1",
            allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.250"}],
            is_dhcp_enabled=False,
        )
    out["public_network"] = net.id

    # The admin project is the operators' workbench (smoke tests, GPU flavor checks), not a
    # tenant: lift its default quotas, which are smaller than one ngc.large or ngc.gpu.1.
    admin = conn.identity.find_project("admin", domain_id="default")
    conn.set_compute_quotas(admin.id, cores=-1, ram=-1, instances=-1)
    conn.set_volume_quotas(admin.id, volumes=-1, gigabytes=-1, snapshots=-1)
    conn.set_network_quotas(
        admin.id, network=-1, subnet=-1, port=-1, router=-1, security_group=-1, floatingip=-1
    )
    return out


def main(action):
    req = json.load(sys.stdin)
    conn = _connect(req)
    result = {"identity": identity, "resources": resources}[action](conn, req)
    print(json.dumps({"ok": True, **result}))


if __name__ == "__main__":
    main(sys.argv[1])
