"""The lifecycle policy file and its pure decisions; the desired state and plan
of a suspended tenant and of one with data access."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from policies.lifecycle import (
    data_access_due,
    data_access_status,
    default_lifecycle_policy_path,
    load_lifecycle_policy,
    milestones,
    notice_due,
    notice_key,
    parse_lifecycle_policy,
    stage,
)
from policies.problems import InputProblems
from policies.selection_policy import load_policy
from policies.tenancy import load_tenant_policy
from provisioner.desired import desired_tenant
from provisioner.model import ObservedRule, ObservedTenant
from provisioner.plan import plan

LAST = date(2021, 8, 31)


@pytest.fixture(scope="module")
def lpolicy():
    return load_lifecycle_policy()


def _shipped() -> str:
    return default_lifecycle_policy_path().read_text()


# ----------------------------------------------------------------- the file


def test_shipped_policy_has_the_agreed_rules_and_a_date_inside_the_pilot_period(lpolicy):
    assert lpolicy.notice_days == [14, 7, 1]
    assert lpolicy.grace_days == 30
    assert lpolicy.data_access.role == "ngc-data-access"
    assert lpolicy.reconcile.repair is False
    period = load_policy().pilot_period
    assert period.start <= lpolicy.data_access.date <= period.end
    assert len(lpolicy.digest) == 64


def test_a_bad_policy_reports_every_problem_at_once_with_its_line():
    text = (
        _shipped()
        .replace("notice_days: [14, 7, 1]", "notice_days: [14, 7, 7, 0]")
        .replace("grace_days: 30", "grace_days: -1")
        .replace("role: ngc-data-access", "role: 'data access'")
        .replace("date: 2021-06-01", "date: first of June")
        .replace("repair: false", "repair: sometimes")
    )
    with pytest.raises(InputProblems) as info:
        parse_lifecycle_policy(text, source="bad.yaml")
    problems = {p.field: p for p in info.value.problems}
    assert {
        "notice_days.3",
        "grace_days",
        "data_access.role",
        "data_access.date",
        "reconcile.repair",
    } <= set(problems), sorted(problems)
    lines = text.splitlines()
    for field, fragment in (
        ("grace_days", "grace_days: -1"),
        ("data_access.role", "role: 'data access'"),
        ("data_access.date", "date: first of June"),
        ("reconcile.repair", "repair: sometimes"),
    ):
        assert problems[field].source == "bad.yaml"
        assert fragment in lines[problems[field].line - 1], field
    assert "Keystone role name" in problems["data_access.role"].message


def test_repeated_notice_day_is_refused():
    text = _shipped().replace("notice_days: [14, 7, 1]", "notice_days: [7, 14, 7]")
    with pytest.raises(InputProblems, match="each notice day may appear once"):
        parse_lifecycle_policy(text)


def test_notice_days_are_kept_most_distant_first():
    text = _shipped().replace("notice_days: [14, 7, 1]", "notice_days: [1, 14, 7]")
    assert parse_lifecycle_policy(text).notice_days == [14, 7, 1]


def test_unknown_placeholder_in_the_notice_is_named_with_its_line():
    text = _shipped().replace("Dear $pi_name,", "Dear $pi_title $pi_name,")
    with pytest.raises(InputProblems) as info:
        parse_lifecycle_policy(text, source="x.yaml")
    [problem] = info.value.problems
    assert problem.field == "notice.body"
    assert "$pi_title" in problem.message and "$pi_name" in problem.message
    assert "body:" in text.splitlines()[problem.line - 1]


def test_unknown_key_is_refused():
    text = _shipped().replace("grace_days: 30", "grace_days: 30\ngrace_hours: 4")
    with pytest.raises(InputProblems, match="unknown field"):
        parse_lifecycle_policy(text)


def test_the_notice_renders_every_placeholder(lpolicy):
    values = {
        "pilot": "RH-2021-07",
        "name": "Trio WGS",
        "pi_name": "Jane",
        "project": "ngc-rh-2021-07",
        "last_day": "2021-08-31",
        "days_left": 14,
        "suspend_on": "2021-09-01",
        "teardown_on": "2021-10-01",
        "grace_days": 30,
        "support_contact": "support@ngc.example.org",
    }
    subject, body = lpolicy.notice.render(values)
    assert subject == "NGC pilot RH-2021-07: access ends after 2021-08-31"
    assert "$" not in body
    for value in values.values():
        assert str(value) in subject + body


# ------------------------------------------------------------ the decisions


def test_milestones_of_the_source_pilot(lpolicy):
    marks = milestones(lpolicy, LAST)
    assert marks.notices == {
        14: date(2021, 8, 17),
        7: date(2021, 8, 24),
        1: date(2021, 8, 30),
    }
    assert marks.suspend_on == date(2021, 9, 1)
    assert marks.teardown_on == date(2021, 10, 1)


@pytest.mark.parametrize(
    ("days_before", "due"),
    [
        (30, None),
        (15, None),
        (14, 14),  # the day of the first notice
        (13, 14),  # still the 14-day notice (recorded once; a repeat is a no-op)
        (8, 14),
        (7, 7),
        (6, 7),
        (2, 7),
        (1, 1),
        (0, 1),  # the last day itself
        (-1, None),  # access has ended: suspension, no notice
    ],
)
def test_which_notice_is_due_on_each_boundary_day(lpolicy, days_before, due):
    assert notice_due(lpolicy, LAST, LAST - timedelta(days=days_before)) == due


def test_a_missed_notice_day_sends_the_most_urgent_one_only(lpolicy):
    # The service was down from 14 to 4 days before the end: the 7-day notice
    # goes out, the 14-day one is not sent late.
    assert notice_due(lpolicy, LAST, LAST - timedelta(days=4)) == 7


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2021, 8, 30), "running"),
        (date(2021, 8, 31), "running"),  # the last day still has access
        (date(2021, 9, 1), "suspend"),
        (date(2021, 9, 30), "suspend"),  # the last day of grace
        (date(2021, 10, 1), "finalise"),
        (date(2022, 1, 1), "finalise"),
    ],
)
def test_suspension_and_finalisation_start_on_their_days(lpolicy, day, expected):
    assert stage(lpolicy, LAST, day) == expected


def test_zero_grace_finalises_the_day_after_the_end():
    policy = parse_lifecycle_policy(_shipped().replace("grace_days: 30", "grace_days: 0"))
    assert stage(policy, LAST, date(2021, 9, 1)) == "finalise"


def test_data_access_is_due_on_and_after_its_date(lpolicy):
    assert not data_access_due(lpolicy, date(2021, 5, 31))
    assert data_access_due(lpolicy, date(2021, 6, 1))
    assert data_access_due(lpolicy, date(2021, 7, 1))


def test_a_pilots_own_data_access_date_wins_over_the_policys(lpolicy):
    assert data_access_due(lpolicy, date(2021, 5, 1), own=date(2021, 5, 1))
    assert not data_access_due(lpolicy, date(2021, 6, 15), own=date(2021, 7, 1))


def test_only_national_genome_data_is_ever_granted(lpolicy):
    national = ["hospital", "national_genome_center"]
    assert lpolicy.data_access.sources == ["national_genome_center"]
    assert set(lpolicy.data_access.sources) <= set(load_policy().vocabularies.data_sources)
    assert data_access_status(lpolicy, national, None, date(2021, 6, 1)) == "due"
    assert data_access_status(lpolicy, national, None, date(2021, 5, 31)) == "not_due"
    for sources in (["hospital", "national_registry"], []):
        assert data_access_status(lpolicy, sources, None, date(2030, 1, 1)) == "no_national_data"
        assert (
            data_access_status(lpolicy, sources, date(2021, 1, 1), date(2030, 1, 1))
            == "no_national_data"
        )


def test_data_access_sources_must_be_data_source_keys():
    text = _shipped().replace("sources: [national_genome_center]", "sources: [National Genome]")
    with pytest.raises(InputProblems) as caught:
        parse_lifecycle_policy(text)
    [problem] = caught.value.problems
    assert problem.field == "data_access.sources" and "data-source key" in problem.message
    empty = _shipped().replace("sources: [national_genome_center]", "sources: []")
    with pytest.raises(InputProblems):
        parse_lifecycle_policy(empty)
    default = _shipped().replace("  sources: [national_genome_center]\n", "")
    assert parse_lifecycle_policy(default).data_access.sources == ["national_genome_center"]


def test_notice_key_names_the_notice_the_pilot_and_its_end():
    assert notice_key(7, "RH-2021-07", LAST) == "expiry-7d:RH-2021-07:2021-08-31"


# ------------------------------------------------- desired state and the plan


@pytest.fixture(scope="module")
def tpolicy():
    return load_tenant_policy()


def _desired(tpolicy, **kw):
    return desired_tenant(
        pilot_id="RH-2021-07",
        pilot_name="Trio WGS",
        pi_email="jane@example.org",
        size="small",
        cidr="10.240.3.0/24",
        end=LAST,
        policy=tpolicy,
        data_access_role="ngc-data-access",
        **kw,
    )


def _converged(d, **kw) -> ObservedTenant:
    base = ObservedTenant(
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
                f"r{i}", "ingress", r.protocol, r.port_min, r.port_max, r.remote_cidr, None, "IPv4"
            )
            for i, r in enumerate(d.ingress)
        ),
        app_credential_id="cred",
    )
    return dataclasses.replace(base, **kw)


def test_a_running_tenant_with_no_drift_plans_nothing(tpolicy):
    d = _desired(tpolicy)
    assert plan(d, _converged(d)).empty


def test_suspension_plans_a_disabled_project_and_zero_compute_and_volume_quotas(tpolicy):
    running = _desired(tpolicy)
    suspended = _desired(tpolicy, suspended=True)
    changes = plan(suspended, _converged(running)).changes
    assert [c.step for c in changes] == [
        "update project ngc-rh-2021-07",
        "update compute_quota ngc-rh-2021-07",
        "update volume_quota ngc-rh-2021-07",
    ]
    assert changes[0].detail == {"enabled": False}
    assert changes[1].detail == {"cores": 0, "ram": 0, "instances": 0}
    assert changes[2].detail == {"volumes": 0, "gigabytes": 0}
    assert suspended.network_quota == running.network_quota


def test_a_suspended_tenant_that_is_suspended_plans_nothing_and_no_new_credential(tpolicy):
    d = _desired(tpolicy, suspended=True)
    observed = _converged(d, project_enabled=False, app_credential_id=None)
    assert plan(d, observed, credential_delivered=False).empty


def test_a_re_enabled_suspended_project_is_drift(tpolicy):
    d = _desired(tpolicy, suspended=True)
    [change] = plan(d, _converged(d, project_enabled=True)).changes
    assert (change.step, change.detail) == ("update project ngc-rh-2021-07", {"enabled": False})


def test_a_disabled_running_project_is_drift(tpolicy):
    d = _desired(tpolicy)
    [change] = plan(d, _converged(d, project_enabled=False)).changes
    assert change.detail == {"enabled": True}


def test_data_access_plans_the_role_for_the_members_group(tpolicy):
    d = _desired(tpolicy, data_access=True)
    [change] = plan(d, _converged(d)).changes
    assert change.step == "create role_assignment ngc-data-access"
    assert change.detail == {"role": "ngc-data-access", "group": "ngc-rh-2021-07-members"}
    assert plan(d, _converged(d, group_has_data_access=True)).empty


def test_data_access_held_before_it_was_granted_is_drift_to_remove(tpolicy):
    d = _desired(tpolicy)
    [change] = plan(d, _converged(d, group_has_data_access=True)).changes
    assert (change.action, change.resource, change.name) == (
        "delete",
        "role_assignment",
        "ngc-data-access",
    )


def test_without_a_configured_role_data_access_is_not_planned(tpolicy):
    d = dataclasses.replace(_desired(tpolicy, data_access=True), data_access_role=None)
    assert plan(d, _converged(d, group_has_data_access=True)).empty


def test_a_suspended_tenant_whose_project_is_gone_is_recreated_disabled(tpolicy):
    d = _desired(tpolicy, suspended=True)
    changes = plan(d, ObservedTenant(domain_id="dom")).changes
    project = next(c for c in changes if c.resource == "project")
    assert project.action == "create" and project.detail["enabled"] is False
    assert not any(c.resource == "application_credential" for c in changes)
