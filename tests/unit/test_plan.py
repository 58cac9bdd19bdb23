"""The provisioner's pure parts: desired state, plan, teardown plan, tenancy policy."""

import dataclasses
import ipaddress
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.problems import InputProblems
from policies.tenancy import (
    allocate_cidr,
    choose_size,
    default_tenant_policy_path,
    load_tenant_policy,
    parse_tenant_policy,
)
from provisioner.desired import desired_tenant
from provisioner.model import ObservedRule, ObservedTenant
from provisioner.plan import plan, plan_teardown, settled_by_answers
from provisioner.secrets import Secret


@pytest.fixture(scope="module")
def tpolicy():
    return load_tenant_policy()


@pytest.fixture
def desired(tpolicy):
    return desired_tenant(
        pilot_id="RH-2021-07",
        pilot_name="Trio WGS",
        pi_email="Jane@Example.org",
        size="medium",
        cidr="10.240.3.0/24",
        end=date(2021, 8, 31),
        policy=tpolicy,
    )


def converged(d) -> ObservedTenant:
    return ObservedTenant(
        domain_id="dom",
        project_id="p",
        project_enabled=True,
        project_tags=d.tags,
        project_description=d.description,
        group_id="g",
        group_has_role=True,
        user_id="u",
        user_in_group=True,
        compute_quota=dict(d.compute_quota),
        network_quota=dict(d.network_quota),
        volume_quota=dict(d.volume_quota),
        network_id="n",
        subnet_id="s",
        subnet_cidr=d.cidr,
        router_id="r",
        router_has_interface=True,
        security_group_id="sg",
        security_group_rules=tuple(
            ObservedRule(
                f"rule{i}",
                "ingress",
                r.protocol,
                r.port_min,
                r.port_max,
                r.remote_cidr,
                None,
                "IPv4",
            )
            for i, r in enumerate(d.ingress)
        )
        + (ObservedRule("egress", "egress", None, None, None, None, None, "IPv4"),),
        app_credential_id="cred",
    )


def test_desired_state_names_everything_after_the_pilot(desired):
    assert desired.project == "ngc-rh-2021-07"
    assert "ngc-pilot:RH-2021-07" in desired.tags
    assert desired.pi_user == "jane@example.org"
    assert desired.external_network is None  # shipped policy: no gateway
    assert all(rule.remote_cidr == "10.10.0.0/24" for rule in desired.ingress)
    assert desired.expires_at.isoformat() == "2021-09-01T00:00:00+00:00"


def test_nothing_observed_plans_every_resource_in_dependency_order(desired):
    steps = [(c.action, c.resource) for c in plan(desired, ObservedTenant()).changes]
    assert steps[:2] == [("create", "domain"), ("create", "project")]
    order = [r for _, r in steps]
    assert order.index("network") < order.index("subnet") < order.index("router_interface")
    assert order.index("user") < order.index("application_credential")
    assert order[-1] == "application_credential"
    assert {
        "compute_quota",
        "network_quota",
        "volume_quota",
        "security_group",
        "security_group_rule",
    } <= set(order)


def test_converged_tenant_plans_nothing(desired):
    assert plan(desired, converged(desired)).empty


def test_drift_is_planned_back_and_only_drift(desired):
    observed = dataclasses.replace(
        converged(desired),
        compute_quota={**desired.compute_quota, "cores": 9999},
        default_group_rules=(
            ObservedRule("dflt", "ingress", None, None, None, None, "default-sg", "IPv4"),
        ),
        security_group_rules=converged(desired).security_group_rules
        + (ObservedRule("open", "ingress", "tcp", 22, 22, "0.0.0.0/0", None, "IPv4"),),
    )
    changes = plan(desired, observed).changes
    assert [(c.action, c.resource) for c in changes] == [
        ("update", "compute_quota"),
        ("delete", "security_group_rule"),
        ("delete", "security_group_rule"),
    ]
    assert changes[0].detail == {"cores": desired.compute_quota["cores"]}
    assert {c.detail["id"] for c in changes[1:]} == {"open", "dflt"}


def test_only_a_new_tenants_plan_is_settled_by_its_answers(desired):
    # Nothing there: the plan makes everything, the default group's ingress included.
    nothing = ObservedTenant()
    assert settled_by_answers(nothing, plan(desired, nothing))
    group_only = ObservedTenant(domain_id="dom", group_id="g", user_id="u")
    assert settled_by_answers(group_only, plan(desired, group_only))
    # A project there (drift, a resumed run): what else is there was read once, so look again.
    drifted = dataclasses.replace(
        converged(desired), compute_quota={**desired.compute_quota, "cores": 1}
    )
    assert not settled_by_answers(drifted, plan(desired, drifted))
    half = ObservedTenant(domain_id="dom", project_id="p", project_tags=desired.tags)
    assert not settled_by_answers(half, plan(desired, half))


def test_credential_whose_expiry_drifted_is_renewed(desired):
    """An extension moves the tenant's end: a credential expiring at the old end is made anew."""
    from datetime import timedelta

    old = dataclasses.replace(
        converged(desired), app_credential_expires_at=desired.expires_at - timedelta(days=30)
    )
    changes = plan(desired, old).changes
    assert [(c.action, c.resource) for c in changes] == [("create", "application_credential")]
    assert changes[0].detail["expires_at"] == desired.expires_at.isoformat()
    same = dataclasses.replace(converged(desired), app_credential_expires_at=desired.expires_at)
    assert plan(desired, same).empty


def test_undelivered_credential_is_made_anew(desired):
    changes = plan(desired, converged(desired), credential_delivered=False).changes
    assert [(c.action, c.resource) for c in changes] == [("create", "application_credential")]


def test_teardown_removes_researchers_resources_before_the_network_and_the_project_last(desired):
    observed = dataclasses.replace(
        converged(desired), servers=("vm1",), volumes=("vol1",), ports=("port1",)
    )
    order = [c.resource for c in plan_teardown(desired, observed).changes]
    assert order[0] == "application_credential"
    assert (
        order.index("server")
        < order.index("router_interface")
        < order.index("router")
        < order.index("subnet")
        < order.index("network")
    )
    assert order[-1] == "project"
    assert plan_teardown(desired, ObservedTenant(domain_id="dom")).empty


def test_size_is_the_smallest_that_covers_the_request(tpolicy):
    assert choose_size(tpolicy, 16, 64, 0) == "small"
    assert choose_size(tpolicy, 200, 512, 0) == "medium"
    assert choose_size(tpolicy, 256, 2048, 0) == "large"
    assert choose_size(tpolicy, 32, 128, 2) == "gpu"
    assert choose_size(tpolicy, 100000, 10, 0) == "large"  # nothing covers it: the largest


@given(st.lists(st.integers(min_value=0, max_value=255), max_size=40))
def test_allocated_subnets_never_overlap(tpolicy, picks):
    taken: list[str] = []
    for _ in picks:
        cidr = allocate_cidr(tpolicy, taken)
        new = ipaddress.ip_network(cidr)
        assert new.subnet_of(ipaddress.ip_network(tpolicy.tenancy.network_pool))
        assert not any(new.overlaps(ipaddress.ip_network(t)) for t in taken)
        taken.append(cidr)


def test_bad_tenant_policy_lists_every_problem():
    text = default_tenant_policy_path().read_text()
    text = text.replace("network_pool: 10.240.0.0/16", "network_pool: 10.240.0.0/33").replace(
        "cores: 64", "cores: -1", 1
    )
    with pytest.raises(InputProblems) as info:
        parse_tenant_policy(text)
    fields = {p.field for p in info.value.problems}
    assert {"tenancy.network_pool", "sizes.small.cores"} <= fields


def test_secrets_do_not_print_themselves():
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {[secret]}"
    assert secret.reveal() == "hunter2"
