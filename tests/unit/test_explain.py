"""Explanations: Shapley shares, unique values, leave-one-out, swaps, why-not."""

import random

import pytest

from policies.explain import explain_selection, shapley_coverage, why_not
from policies.optimizer import optimize
from policies.portfolio import Candidate, SelectionInstance, coverage_points, objective

VALUES = ["a=0", "a=1", "a=2", "b=0", "b=1"]
WEIGHTS = dict.fromkeys(VALUES, 6.0)


def instance(n=12, seed=3):
    rng = random.Random(seed)
    candidates = tuple(
        Candidate(
            f"P{i:02d}",
            f"I{i % 5}",
            float(rng.randint(10, 90)),
            (float(rng.randint(1, 5)), 1.0, 1.0, 0.0),
            frozenset(rng.sample(VALUES, rng.randint(1, 3))),
        )
        for i in range(n)
    )
    return SelectionInstance(
        candidates, WEIGHTS, (1.0, 0.5, 0.25), 2, 4, 2, (12.0, 99.0, 99.0, 9.0)
    )


def test_shapley_shares_add_up_to_the_coverage_points():
    inst = instance()
    result = optimize(inst)
    chosen = [inst.by_id()[i] for i in result.selected]
    shares = shapley_coverage(chosen, inst)
    assert sum(shares.values()) == pytest.approx(coverage_points(chosen, inst))


def test_each_selected_project_is_explained():
    inst = instance()
    result = optimize(inst)
    explanations = explain_selection(inst, result)
    assert set(explanations) == set(result.selected)
    assert sum(e.share_of_score for e in explanations.values()) == pytest.approx(1.0, abs=1e-3)
    for pid, e in explanations.items():
        rest = [inst.by_id()[i] for i in result.selected if i != pid]
        assert e.marginal_loss == pytest.approx(result.objective - objective(rest, inst), abs=1e-6)
        # The selection is optimal, so no single swap can improve it, and
        # re-planning without the project cannot beat the optimum either.
        assert e.best_swap_delta is None or e.best_swap_delta <= 1e-6
        assert e.replan_loss is None or e.replan_loss >= -1e-6


def test_unique_values_are_the_ones_nobody_else_selected_covers():
    a = Candidate("A", "I1", 10.0, (1, 1, 1, 0), frozenset({"a=0", "b=0"}))
    b = Candidate("B", "I2", 10.0, (1, 1, 1, 0), frozenset({"a=0", "b=1"}))
    inst = SelectionInstance((a, b), WEIGHTS, (1.0, 0.5), 2, 2, 1, (9, 9, 9, 9))
    explanations = explain_selection(inst, optimize(inst))
    assert explanations["A"].unique_values == ("b=0",)
    assert explanations["B"].unique_values == ("b=1",)


def test_why_not_reports_the_cost_of_forcing_a_project_in():
    inst = instance()
    result = optimize(inst)
    outsider = next(c.id for c in inst.candidates if c.id not in result.selected)
    answer = why_not(inst, result, outsider)
    assert answer.cost is not None and answer.cost >= -1e-6
    assert outsider in answer.forced_selection
    assert set(answer.displaced) == set(result.selected) - set(answer.forced_selection)
