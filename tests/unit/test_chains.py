"""A provisioning plan's chains: what may run at once keeps every dependency inside one chain."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from policies.tenancy import load_tenant_policy
from provisioner.apply import apply
from provisioner.chains import AFTER, chains
from provisioner.desired import desired_tenant
from provisioner.model import Change, ObservedTenant, Plan
from provisioner.plan import plan, plan_teardown
from provisioner.testing import InMemoryCloud


@pytest.fixture
def desired():
    return desired_tenant(
        pilot_id="RH-2021-07",
        pilot_name="Trio WGS",
        pi_email="jane@example.org",
        size="medium",
        cidr="10.240.3.0/24",
        end=date(2021, 8, 31),
        policy=load_tenant_policy(),
    )


def test_a_new_tenant_runs_domain_and_project_first_then_independent_chains(desired):
    the_plan = plan(desired, ObservedTenant())
    head, parallel = chains(the_plan)
    assert [c.resource for c in head] == ["domain", "project"]
    by_first = {chain[0].resource: [c.resource for c in chain] for chain in parallel}
    assert by_first["group"] == [
        "group",
        "role_assignment",
        "user",
        "group_membership",
        "application_credential",
    ]
    assert by_first["network"] == ["network", "subnet", "router_interface"]
    assert by_first["router"] == ["router"]  # the interface waits for it (AFTER)
    assert AFTER["router_interface"] == {"router"}
    assert AFTER["router"] == {"network_quota"}
    assert by_first["security_group"][-1] == "default_group_ingress"
    assert {"compute_quota", "network_quota", "volume_quota"} <= set(by_first)
    # Nothing lost or repeated, and each chain in plan order.
    flat = [*head, *(c for chain in parallel for c in chain)]
    assert sorted(map(repr, flat)) == sorted(map(repr, the_plan.changes))
    for chain in parallel:
        positions = [the_plan.changes.index(c) for c in chain]
        assert positions == sorted(positions)


def test_a_plan_with_a_change_it_does_not_know_is_not_split(desired):
    assert chains(plan_teardown(desired, ObservedTenant(project_id="p", network_id="n"))) is None
    odd = Plan("X", (Change("create", "network", "n"), Change("create", "project", "p")))
    assert chains(odd) is None  # a head change after another change


class _Recording:
    """The in-memory cloud, recording the order of changes; the router waits for the subnet."""

    def __init__(self) -> None:
        self.cloud = InMemoryCloud()
        self.order: list[str] = []
        self.subnet_done = threading.Event()

    def execute(self, change: Change, desired):
        if change.resource == "router":
            # The network chain runs on meanwhile; the interface must not start before this.
            self.subnet_done.wait()
        result = self.cloud.execute(change, desired)
        self.order.append(change.resource)
        if change.resource == "subnet":
            self.subnet_done.set()
        return result


def test_the_router_waits_for_the_network_quota_and_its_interface_for_the_router(desired):
    backend = _Recording()
    the_plan = plan(desired, backend.cloud.observe(desired))
    report = apply(the_plan, desired, backend, concurrent=True)
    assert report.ok, report.error
    assert backend.order.index("router") < backend.order.index("router_interface")
    assert backend.order.index("network_quota") < backend.order.index("router")
    assert backend.cloud.observe(desired).router_has_interface


def test_a_failed_router_leaves_the_interface_unstarted_and_the_apply_returns(desired):
    backend = InMemoryCloud()
    backend.fail_once("router", after=False, transient=False)
    the_plan = plan(desired, backend.observe(desired))
    report = apply(the_plan, desired, backend, concurrent=True)
    assert report.failed == next(c.step for c in the_plan.changes if c.resource == "router")
    assert not any(step.startswith("create router_interface") for step in backend.calls)
