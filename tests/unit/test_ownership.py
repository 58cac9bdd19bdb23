"""No pilot adopts, updates or deletes another pilot's resources (issue 8 §1, provisioner side).

Two pilot ids differing only in case (``ACC-RH-01``, ``acc-rh-01``) map to one
project name; the pure plans refuse what observation classified as foreign,
and the in-memory cloud (which finds tenants by name, as a cloud does) shows
the whole loop: observe, refuse, nothing changed.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from policies.tenancy import load_tenant_policy
from provisioner.apply import apply
from provisioner.backend import (
    CloudBackend,
    ForeignResourceError,
    IsolationProbe,
    UsageReader,
)
from provisioner.desired import desired_tenant
from provisioner.model import Change, ForeignResource, ObservedTenant, owner_of
from provisioner.plan import plan, plan_teardown
from provisioner.testing import InMemoryCloud


def desired_for(pilot_id: str, email: str = "pi@example.org"):
    return desired_tenant(
        pilot_id=pilot_id,
        pilot_name="Trio WGS",
        pi_email=email,
        size="small",
        cidr="10.240.3.0/24",
        end=date(2099, 8, 31),
        policy=load_tenant_policy(),
    )


FIRST, SECOND = "ACC-RH-01", "acc-rh-01"


def observed_with(*foreign: ForeignResource) -> ObservedTenant:
    return ObservedTenant(domain_id="dom", project_id="p1", foreign=foreign)


def test_case_variants_of_one_pilot_id_share_a_project_name_but_are_two_owners():
    first, second = desired_for(FIRST), desired_for(SECOND)
    assert first.project == second.project
    assert owner_of(first.tags) == FIRST
    assert owner_of(second.tags) == SECOND


def test_plan_refuses_a_project_of_another_pilot_naming_resource_owner_and_pilot():
    desired = desired_for(SECOND)
    foreign = ForeignResource("project", desired.project, "p1", FIRST)
    with pytest.raises(ForeignResourceError) as refused:
        plan(desired, observed_with(foreign))
    message = str(refused.value)
    assert f"project {desired.project} (p1)" in message
    assert f"pilot {FIRST}'s" in message
    assert f"for pilot {SECOND}" in message
    assert "nothing was changed" in message
    assert not refused.value.transient


def test_teardown_plan_refuses_a_network_of_another_pilot():
    desired = desired_for(SECOND)
    foreign = ForeignResource("network", desired.network, "n1", FIRST)
    with pytest.raises(ForeignResourceError, match=f"network {desired.network} \\(n1\\)"):
        plan_teardown(desired, observed_with(foreign))


def test_a_project_tagged_as_nobodys_is_not_adopted():
    desired = desired_for(SECOND)
    with pytest.raises(ForeignResourceError, match="not known as this pilot's"):
        plan(desired, observed_with(ForeignResource("project", desired.project, "p1", None)))


def test_teardown_leaves_a_pi_user_another_pilot_shares():
    desired = desired_for(SECOND)
    observed = ObservedTenant(domain_id="dom", project_id="p2", user_id="u1", user_shared=True)
    resources = [c.resource for c in plan_teardown(desired, observed).changes]
    assert "user" not in resources
    assert resources[-1] == "project"


def test_teardown_deletes_the_pilots_own_pi_user():
    desired = desired_for(SECOND)
    observed = ObservedTenant(domain_id="dom", project_id="p2", user_id="u1")
    assert "user" in [c.resource for c in plan_teardown(desired, observed).changes]


@pytest.fixture
def cloud_with_first_pilot() -> InMemoryCloud:
    cloud = InMemoryCloud()
    first = desired_for(FIRST)
    report = apply(plan(first, cloud.observe(first)), first, cloud)
    assert report.ok, report.error
    return cloud


def snapshot(cloud: InMemoryCloud):
    return {name: dataclasses.asdict(t) for name, t in cloud.tenants.items()}, dict(
        cloud.identities
    )


def test_in_memory_cloud_observes_a_colliding_pilots_project_as_foreign(cloud_with_first_pilot):
    second = desired_for(SECOND)
    observed = cloud_with_first_pilot.observe(second)
    assert [(f.kind, f.owner) for f in observed.foreign] == [("project", FIRST)]


def test_second_pilot_can_neither_provision_nor_tear_down_the_first(cloud_with_first_pilot):
    cloud = cloud_with_first_pilot
    second = desired_for(SECOND)
    before, calls = snapshot(cloud), cloud.mutating_calls
    with pytest.raises(ForeignResourceError):
        plan(second, cloud.observe(second))
    with pytest.raises(ForeignResourceError):
        plan_teardown(second, cloud.observe(second, deep=True))
    assert snapshot(cloud) == before
    assert cloud.mutating_calls == calls
    first = desired_for(FIRST)
    assert plan(first, cloud.observe(first)).empty  # the first pilot's tenant is whole


def test_in_memory_cloud_refuses_a_forged_change_to_another_pilots_project(
    cloud_with_first_pilot,
):
    cloud = cloud_with_first_pilot
    second = desired_for(SECOND)
    before = snapshot(cloud)
    forged = Change("delete", "project", second.project, {"id": "whatever"})
    with pytest.raises(ForeignResourceError, match=f"pilot {FIRST}'s"):
        cloud.execute(forged, second)
    assert snapshot(cloud) == before


def test_in_memory_cloud_implements_the_backend_protocols():
    cloud: CloudBackend = InMemoryCloud()
    assert isinstance(cloud, UsageReader)
    assert isinstance(cloud, IsolationProbe)
