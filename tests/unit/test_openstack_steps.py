"""The OpenStack backend's dispatch table serves every change a plan can hold."""

from __future__ import annotations

import dataclasses
from datetime import date

from policies.tenancy import load_tenant_policy
from provisioner.desired import desired_tenant
from provisioner.members import ObservedMember, desired_member, plan_member, plan_member_removal
from provisioner.model import ObservedRule, ObservedTenant
from provisioner.openstack.steps import STEPS
from provisioner.plan import plan, plan_teardown


def test_every_change_a_plan_can_hold_has_exactly_its_handler():
    desired = desired_tenant(
        pilot_id="RH-1",
        pilot_name="x",
        pi_email="pi@example.org",
        size="small",
        cidr="10.240.3.0/24",
        end=date(2099, 1, 31),
        policy=load_tenant_policy(),
        suspended=False,
        data_access=True,
        data_access_role="ngc-data-access",
    )
    rule = ObservedRule("r", "ingress", "tcp", 1, 1, "0.0.0.0/0", None, "IPv4")
    drifted = ObservedTenant(
        domain_id="d",
        project_id="p",
        project_enabled=False,
        group_has_data_access=False,
        router_id="r",
        router_gateway="elsewhere",
        security_group_rules=(rule,),
        default_group_rules=(rule,),
    )
    whole = dataclasses.replace(
        drifted,
        group_id="g",
        user_id="u",
        network_id="n",
        subnet_id="s",
        router_has_interface=True,
        security_group_id="sg",
        app_credential_id="c",
        servers=("vm",),
        volumes=("vol",),
        ports=("port",),
    )
    revoked = dataclasses.replace(desired, data_access=False)
    changes = [
        *plan(desired, ObservedTenant()).changes,
        *plan(desired, drifted).changes,
        *plan(revoked, dataclasses.replace(whole, group_has_data_access=True)).changes,
        *plan_teardown(desired, whole).changes,
        *_member_changes(desired),
    ]
    planned = {(c.action, c.resource) for c in changes}
    assert planned == set(STEPS)
    for (action, resource), handler in STEPS.items():
        assert handler.__name__ == f"{action}_{resource}"


def _member_changes(desired):
    """Every change the member plans can hold (``provisioner.members``)."""
    key = "ssh-ed25519 AAAA x"
    member = desired_member(desired, "m@example.org", "member", key)
    reader = desired_member(desired, "r@example.org", "reader")
    fresh = ObservedMember(project_id="p")
    whole = ObservedMember(
        project_id="p", user_id="u", in_group=True, app_credential_id="c", keypair="k"
    )
    return [
        *plan_member(desired, member, fresh, credential_delivered=False).changes,
        *plan_member(desired, reader, fresh, credential_delivered=False).changes,
        *plan_member_removal(desired, member, whole).changes,
    ]
