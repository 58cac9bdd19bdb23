"""Bulk observation on devcloud: one listing per resource kind gives, for every tenant,
exactly what observing it alone gives (converged, drifted, missing, another pilot's)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

import pytest

from policies.tenancy import load_tenant_policy
from provisioner.apply import apply
from provisioner.desired import desired_tenant
from provisioner.openstack import OpenStackBackend
from provisioner.plan import plan, plan_teardown


@pytest.fixture
def three(devcloud):
    backend = OpenStackBackend("devcloud", devcloud)
    policy = load_tenant_policy()
    run = uuid.uuid4().hex[:6].upper()
    tenants = [
        desired_tenant(
            pilot_id=f"OB{run}-{i}",
            pilot_name="bulk observation",
            pi_email=f"ob{run.lower()}-{i}@example.org",
            size="small",
            cidr=f"10.251.{i}.0/24",
            end=date.today() + timedelta(days=30),
            policy=policy,
        )
        for i in range(3)
    ]
    for d in tenants:
        report = apply(plan(d, backend.observe(d)), d, backend)
        assert report.ok, report.error
    yield backend, tenants
    for d in tenants:
        apply(plan_teardown(d, backend.observe(d, deep=True)), d, backend)


@pytest.fixture(params=["apart", "few", "everything"])
def listed(request, monkeypatch):
    """Each way of listing, forced here with three tenants: a few projects in a
    large cloud (Neutron filtered, one effective listing per project), a few in
    a small one (the effective listing of the whole cloud), and more than
    ``FILTER_UP_TO`` (everything listed whole, as a reconcile)."""
    from provisioner.openstack import observe_bulk

    if request.param == "apart":
        monkeypatch.setattr(observe_bulk, "EXPAND_RATIO", 0)
    elif request.param == "few":
        monkeypatch.setattr(observe_bulk, "EXPAND_RATIO", 10**9)
    else:
        monkeypatch.setattr(observe_bulk, "FILTER_UP_TO", 0)
    return request.param


def test_the_bulk_snapshot_is_the_per_tenant_observation_for_three_tenants(three, listed):
    backend, tenants = three
    conn = backend.conn
    first = tenants[0]
    project = backend.observe(first).project_id
    conn.compute.update_quota_set(project, cores=3)  # drift behind ngc-pilot's back
    missing = dataclasses.replace(first, pilot_id="OB-NONE", project=f"{first.project}-none")
    foreign = dataclasses.replace(tenants[1], pilot_id="OB-OTHER")
    wanted = [*tenants, missing, foreign]
    bulk = backend.observe_many(wanted)
    assert bulk == [backend.observe(d) for d in wanted]
    assert bulk[0].compute_quota["cores"] == 3 and bulk[4].foreign
    assert bulk[1].router_has_interface and bulk[1].security_group_rules


def test_a_few_projects_groups_are_expanded_one_project_at_a_time(three, listed, monkeypatch):
    """For a few projects in a large cloud Keystone expands only theirs (one
    effective listing per project, not every group in the cloud); else one
    listing of the whole cloud."""
    from provisioner.openstack import observe_bulk

    backend, tenants = three
    sent: list[dict] = []
    listing = observe_bulk.rows

    def spied(proxy, path, key, params=None, **kw):
        if path == "/role_assignments" and (params or {}).get("effective"):
            sent.append(dict(params))
        return listing(proxy, path, key, params, **kw)

    monkeypatch.setattr(observe_bulk, "rows", spied)
    projects = sorted(o.project_id for o in backend.observe_many(tenants))
    if listed == "apart":
        assert sorted(p["scope.project.id"] for p in sent) == projects
    else:
        assert sent == [{"effective": True}]


def test_parallel_workers_share_one_token_a_bounded_pool_and_retry_connect_failures(devcloud):
    from provisioner.openstack.connection import CONNECT_RETRIES, ENDPOINT_CONCURRENCY

    a, b = OpenStackBackend("devcloud", devcloud), OpenStackBackend("devcloud", devcloud)
    assert a.conn.session is b.conn.session  # one Keystone session: one token
    assert a.conn.session.get_token() == b.conn.session.get_token()
    pool = a.conn.session.session.get_adapter(a.auth_url())
    assert pool._pool_block and pool._pool_maxsize == ENDPOINT_CONCURRENCY
    assert a.conn.network.connect_retries == CONNECT_RETRIES


def test_plans_from_the_snapshot_are_the_per_tenant_plans_and_a_noop_changes_nothing(three):
    """The no-op re-apply path: plans made from one bulk snapshot are the plans
    made from observing each tenant alone, and applying them makes no call."""
    backend, tenants = three
    for d in tenants:  # the second pass: the default groups' rules Neutron added meanwhile
        assert apply(plan(d, backend.observe(d)), d, backend).ok
    drifted = tenants[2]
    project = backend.observe(drifted).project_id
    backend.conn.block_storage.update_quota_set(project, volumes=1)  # behind ngc-pilot's back
    from_snapshot = [
        plan(d, o) for d, o in zip(tenants, backend.observe_many(tenants), strict=True)
    ]
    assert from_snapshot == [plan(d, backend.observe(d)) for d in tenants]
    assert [len(p.changes) for p in from_snapshot] == [0, 0, 1]
    assert from_snapshot[2].changes[0].resource == "volume_quota"
    before = backend.mutating_calls
    for d, p in zip(tenants, from_snapshot, strict=True):
        assert apply(p, d, backend, concurrent=True).ok
    assert backend.mutating_calls == before + 1  # the drift, and nothing else
    again = [plan(d, o) for d, o in zip(tenants, backend.observe_many(tenants), strict=True)]
    assert all(p.empty for p in again)


def test_membership_is_read_from_the_effective_listing_and_drift_in_it_is_seen(
    three, listed, monkeypatch
):
    """The PI's membership comes from the effective role-assignment listing (no
    read per tenant) while the group holds a role; a removed membership shows,
    and a group stripped of its role is asked directly — as observing alone."""
    from provisioner.openstack.observe import LiveReads

    backend, tenants = three
    ident = backend.conn.identity
    gone, stripped, kept = (backend.observe(d) for d in tenants)
    ident.remove_user_from_group(gone.user_id, gone.group_id)  # behind ngc-pilot's back
    role = ident.find_role(tenants[1].member_role)
    ident.unassign_project_role_from_group(stripped.project_id, stripped.group_id, role)
    asked: list[str] = []
    live = LiveReads.in_group

    def counted(self, user, group):
        asked.append(group.id)
        return live(self, user, group)

    monkeypatch.setattr(LiveReads, "in_group", counted)
    bulk = backend.observe_many(tenants)
    assert asked == [stripped.group_id]  # only the group the listing cannot show
    assert [o.user_in_group for o in bulk] == [False, True, True]
    assert [o.group_has_role for o in bulk] == [True, False, True]
    assert bulk == [backend.observe(d) for d in tenants]
    assert kept.user_in_group


def test_a_listing_read_as_json_follows_every_page_and_raises_the_sdks_errors(three):
    """The bulk listings read JSON (``openstack.rows``): a listing Neutron pages
    (one item a page here) is read whole, the same as openstacksdk's, and an
    error is openstacksdk's exception."""
    from openstack import exceptions as os_exceptions

    from provisioner.openstack.rows import rows

    backend, tenants = three
    net = backend.conn.network
    projects = [backend.observe(d).project_id for d in tenants]
    paged = rows(net, "/networks", "networks", {"project_id": projects, "limit": 1})
    whole = list(net.networks(project_id=projects))
    assert len(whole) == 3
    assert sorted((r.id, r.name, tuple(r.tags)) for r in paged) == sorted(
        (n.id, n.name, tuple(n.tags)) for n in whole
    )
    with pytest.raises(os_exceptions.NotFoundException):
        rows(net, "/no-such-collection", "items")


def test_the_snapshot_makes_no_default_security_group_for_a_project_it_observes(three):
    """The security groups are listed for the wanted projects only, yet observing
    a project Neutron has never seen (listed first) makes no "default" group for
    it, as Neutron does for the first project a security-group listing names."""
    backend, tenants = three
    conn = backend.conn
    first = tenants[0]
    domain = conn.identity.find_domain(first.domain)
    bare = conn.identity.create_project(
        name=f"{first.project}-bare", domain_id=domain.id, tags=list(first.tags)
    )
    try:
        unseen = dataclasses.replace(first, pilot_id=f"{first.pilot_id}-BARE", project=bare.name)
        alone = backend.observe_many([unseen])  # the only project: the first the listing names
        bulk = backend.observe_many([unseen, *tenants])
        assert [g.id for g in conn.network.security_groups() if g.project_id == bare.id] == []
        assert alone[0].project_id == bare.id and alone[0].security_group_id is None
        assert bulk[1:] == [backend.observe(d) for d in tenants]
    finally:
        conn.identity.delete_project(bare)
