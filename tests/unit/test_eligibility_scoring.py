"""Eligibility (the legal basis) and the transparent quality score."""

import pytest
from support.records import record

from policies.eligibility import assess
from policies.nomination import Nomination
from policies.planning import add_months, planned_dates
from policies.scoring import score


def nom(policy, **overrides):
    return Nomination.model_validate(
        record(**overrides), context={"vocabularies": policy.vocabularies}
    )


def test_eligible_when_all_conditions_hold(policy):
    assert assess(nom(policy), policy).eligible


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"eligibility__personalised_medicine": False}, "not within personalised medicine"),
        ({"eligibility__societal_interest": False}, "no societal interest"),
        ({"eligibility__data_processing_agreement": "none"}, "data processing agreement is 'none'"),
        ({"ready_date": "2021-09-01"}, "not before the pilot ends"),
    ],
)
def test_each_ineligibility_has_its_reason(policy, overrides, reason):
    result = assess(nom(policy, **overrides), policy)
    assert not result.eligible
    assert any(reason in r for r in result.reasons)


def test_all_reasons_are_given_not_just_the_first(policy):
    result = assess(
        nom(
            policy,
            eligibility__personalised_medicine=False,
            eligibility__data_processing_agreement="none",
        ),
        policy,
    )
    assert len(result.reasons) == 2


def test_agreement_in_progress_is_eligible(policy):
    assert assess(
        nom(policy, eligibility__data_processing_agreement="in_progress"), policy
    ).eligible


def test_score_breakdown_sums_to_the_total(policy):
    s = score(nom(policy), policy)
    assert s.total == pytest.approx(sum(c.points for c in s.criteria))
    assert [c.name for c in s.criteria] == ["maturity", "readiness", "commitment", "data_volume"]


def test_perfect_project_earns_every_weight(policy):
    s = score(nom(policy, maturity=5, data__volume="2 PB", ready_date="2021-01-01"), policy)
    weights = policy.scoring.weights
    assert s.total == pytest.approx(
        weights.maturity + weights.readiness + weights.commitment + weights.data_volume
    )


def test_maturity_and_commitment_move_the_score(policy):
    low = score(nom(policy, maturity=1, commits_to_evaluation=False), policy).total
    high = score(nom(policy, maturity=5, commits_to_evaluation=True), policy).total
    assert high - low == pytest.approx(
        policy.scoring.weights.maturity + policy.scoring.weights.commitment
    )


def test_readiness_falls_linearly_to_zero_at_pilot_end(policy):
    at_start = score(nom(policy, ready_date="2021-04-15"), policy).criteria[1].fraction
    midway = score(nom(policy, ready_date="2021-06-23"), policy).criteria[1].fraction
    assert at_start == 1.0
    assert 0.4 < midway < 0.6


def test_planned_dates_respect_readiness_months_and_pilot_period(policy):
    from datetime import date

    start, end = planned_dates(date(2021, 5, 10), 2, date(2021, 4, 15), date(2021, 8, 31))
    assert (start, end) == (date(2021, 5, 10), date(2021, 7, 9))
    start, end = planned_dates(date(2021, 3, 1), 12, date(2021, 4, 15), date(2021, 8, 31))
    assert (start, end) == (date(2021, 4, 15), date(2021, 8, 31))
    assert add_months(date(2021, 1, 31), 1) == date(2021, 2, 28)
