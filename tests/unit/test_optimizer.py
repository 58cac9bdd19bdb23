"""The portfolio optimizer: exact, deterministic, constraint-respecting, explainable."""

import random
from itertools import combinations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.bound_fixing import fix_by_bound, lp_bounds
from policies.dominance import reduce_dominated
from policies.greedy import greedy
from policies.infeasibility import diagnose_infeasibility
from policies.optimizer import canonical_swaps, optimize, reduce_candidates
from policies.portfolio import Candidate, SelectionInstance, objective, violations
from policies.selection_model import build_compact, candidate_arrays
from policies.solver import SEARCH_THREADS, SERIAL_SEARCH, TUNED_OPTIONS, new_highs, run, solve
from policies.testing import brute_force, canonical_swaps_loop, solve_naive

VALUES = [f"a={i}" for i in range(4)] + [f"b={i}" for i in range(3)] + ["c=x", "c=y"]
WEIGHTS = {v: (8.0 if v.startswith("a") else 5.0 if v.startswith("b") else 3.0) for v in VALUES}


@st.composite
def instances(draw, max_n=9):
    n = draw(st.integers(min_value=3, max_value=max_n))
    candidates = []
    for i in range(n):
        candidates.append(
            Candidate(
                id=f"P{i:02d}",
                institution=draw(st.sampled_from(["I1", "I2", "I3"])),
                quality=float(draw(st.integers(min_value=0, max_value=100))),
                resources=(
                    float(draw(st.integers(1, 8))),
                    float(draw(st.integers(1, 8))),
                    float(draw(st.integers(0, 5))),
                    float(draw(st.integers(0, 2))),
                ),
                values=frozenset(draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=4))),
            )
        )
    k_min = draw(st.integers(1, 3))
    k_max = draw(st.integers(k_min, 5))
    ids = [c.id for c in candidates]
    lock_in = draw(st.lists(st.sampled_from(ids), max_size=1, unique=True))
    lock_out = draw(
        st.lists(st.sampled_from([i for i in ids if i not in lock_in]), max_size=1, unique=True)
    )
    return SelectionInstance(
        candidates=tuple(candidates),
        value_weights=WEIGHTS,
        repeat_credit=(1.0, 0.5, 0.25),
        k_min=k_min,
        k_max=k_max,
        institution_cap=draw(st.integers(1, 3)),
        capacity=(
            float(draw(st.integers(4, 30))),
            float(draw(st.integers(4, 30))),
            float(draw(st.integers(0, 12))),
            float(draw(st.integers(0, 3))),
        ),
        lock_in=frozenset(lock_in),
        lock_out=frozenset(lock_out),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_optimum_equals_brute_force_and_respects_every_constraint(instance):
    best, winners = brute_force(instance)
    result = optimize(instance, time_limit=30)
    if not winners:
        assert result.status == "infeasible"
        assert result.infeasibility
        return
    assert result.optimal and result.gap == 0.0
    assert result.objective == pytest.approx(best, abs=1e-6)
    chosen = [instance.by_id()[i] for i in result.selected]
    assert violations(chosen, instance) == []
    assert result.selected in winners


@settings(max_examples=60, deadline=None)
@given(instances(), st.randoms(use_true_random=False))
def test_same_input_in_any_order_gives_the_same_set(instance, rnd):
    shuffled = list(instance.candidates)
    rnd.shuffle(shuffled)
    again = SelectionInstance(
        tuple(shuffled),
        instance.value_weights,
        instance.repeat_credit,
        instance.k_min,
        instance.k_max,
        instance.institution_cap,
        instance.capacity,
        instance.lock_in,
        instance.lock_out,
    )
    assert optimize(instance).selected == optimize(again).selected


@settings(max_examples=80, deadline=None)
@given(instances(max_n=9))
def test_dominance_reduction_never_loses_the_optimum(instance):
    reduced = reduce_dominated(instance)
    kept = {c.id for c in reduced}
    assert instance.lock_in <= kept
    smaller = SelectionInstance(
        tuple(reduced),
        instance.value_weights,
        instance.repeat_credit,
        instance.k_min,
        instance.k_max,
        instance.institution_cap,
        instance.capacity,
        instance.lock_in,
        instance.lock_out & kept,
    )
    full, _ = brute_force(instance)
    part, _ = brute_force(smaller)
    assert part == pytest.approx(full, abs=1e-6)


def _many(n, seed=7, k_max=3):
    rng = random.Random(seed)
    candidates = [
        Candidate(
            f"Q{i:03d}",
            f"I{i % 4}",
            float(rng.randint(0, 100)),
            (float(rng.randint(1, 9)), float(rng.randint(1, 9)), 1.0, 0.0),
            frozenset(rng.sample(VALUES, rng.randint(1, 3))),
        )
        for i in range(n)
    ]
    return SelectionInstance(
        tuple(candidates), WEIGHTS, (1.0, 0.5, 0.25), 1, k_max, 2, (20.0, 20.0, 10.0, 0.0)
    )


def test_dominance_reduction_removes_candidates_when_many_are_alike():
    instance = _many(200)
    assert len(reduce_dominated(instance)) < 200


def test_compact_and_naive_models_agree_on_the_optimum():
    instance = _many(40, k_max=4)
    status, value, _ = solve_naive(instance)
    result = optimize(instance)
    assert status == "optimal" and result.optimal
    assert result.objective == pytest.approx(value, abs=1e-6)


def test_repeated_values_earn_diminishing_credit():
    a = Candidate("A", "I1", 0.0, (1, 1, 0, 0), frozenset({"a=0"}))
    b = Candidate("B", "I2", 0.0, (1, 1, 0, 0), frozenset({"a=0"}))
    c = Candidate("C", "I3", 0.0, (1, 1, 0, 0), frozenset({"a=1"}))
    inst = SelectionInstance((a, b, c), WEIGHTS, (1.0, 0.5), 2, 2, 1, (9, 9, 9, 9))
    assert objective([a, b], inst) == 8 * 1.5
    assert objective([a, c], inst) == 16
    assert optimize(inst).selected == ("A", "C")


def test_greedy_can_miss_a_feasible_set_that_the_milp_finds():
    # Greedy takes the valuable BIG project (its capacity reserve counts two
    # small I1 projects that the institution cap will not allow together) and
    # then cannot reach k_min; the MILP finds the only feasible set.
    big = Candidate("BIG", "I1", 100.0, (4, 1, 0, 0), frozenset({"a=0"}))
    small = (
        Candidate("S0", "I1", 10.0, (2, 1, 0, 0), frozenset({"a=1"})),
        Candidate("S1", "I1", 10.0, (2, 1, 0, 0), frozenset({"a=1"})),
        Candidate("S2", "I2", 10.0, (3, 1, 0, 0), frozenset({"a=2"})),
        Candidate("S3", "I3", 10.0, (3, 1, 0, 0), frozenset({"a=3"})),
    )
    inst = SelectionInstance((big, *small), WEIGHTS, (1.0,), 3, 3, 1, (8, 9, 9, 9))
    assert greedy(inst) is None
    result = optimize(inst)
    assert result.optimal and result.selected == ("S0", "S2", "S3")


def test_locks_are_honoured():
    instance = _many(30, k_max=4)
    free = optimize(instance)
    out = free.selected[0]
    locked = optimize(instance.with_locks(lock_in=["Q029"], lock_out=[out]))
    assert "Q029" in locked.selected and out not in locked.selected
    assert locked.objective <= free.objective + 1e-9


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"k_min": 9}, "minimum size"),
        ({"capacity": (2.0, 99.0, 99.0, 99.0)}, "vcpus capacity"),
        ({"institution_cap": 1, "k_min": 3}, "per-institution cap"),
    ],
)
def test_infeasible_selection_names_the_constraint(change, expected):
    base = dict(
        candidates=(
            Candidate("A", "I1", 1.0, (3, 1, 0, 0), frozenset({"a=0"})),
            Candidate("B", "I1", 1.0, (3, 1, 0, 0), frozenset({"a=1"})),
            Candidate("C", "I2", 1.0, (3, 1, 0, 0), frozenset({"a=2"})),
        ),
        value_weights=WEIGHTS,
        repeat_credit=(1.0,),
        k_min=2,
        k_max=3,
        institution_cap=2,
        capacity=(99.0, 99.0, 99.0, 99.0),
    )
    base.update(change)
    instance = SelectionInstance(**base)
    result = optimize(instance)
    assert result.status == "infeasible"
    assert any(expected in reason for reason in result.infeasibility), result.infeasibility
    assert diagnose_infeasibility(instance) == result.infeasibility


def test_locking_in_more_than_capacity_is_explained_with_numbers():
    a = Candidate("A", "I1", 1.0, (8, 1, 0, 0), frozenset({"a=0"}))
    b = Candidate("B", "I2", 1.0, (8, 1, 0, 0), frozenset({"a=1"}))
    inst = SelectionInstance((a, b), WEIGHTS, (1.0,), 1, 2, 2, (10, 9, 9, 9), frozenset({"A", "B"}))
    reasons = optimize(inst).infeasibility
    assert any("locked-in projects need 16, capacity is 10" in r for r in reasons)


def test_regression_solver_answer_matches_its_proven_objective():
    # Found by the brute-force property test: with a MIP start set, highspy
    # returned the start's x (objective 17) while proving 21.
    c = (
        Candidate("P00", "I1", 0.0, (1, 1, 0, 0), frozenset({"a=0"})),
        Candidate("P01", "I1", 0.0, (1, 1, 0, 0), frozenset({"a=0"})),
        Candidate("P02", "I1", 1.0, (1, 7, 0, 0), frozenset({"a=1"})),
        Candidate("P03", "I2", 1.0, (1, 1, 0, 0), frozenset({"a=0"})),
        Candidate("P04", "I1", 0.0, (1, 1, 0, 0), frozenset({"a=1"})),
    )
    inst = SelectionInstance(
        c, WEIGHTS, (1.0, 0.5, 0.25), 1, 3, 2, (4.0, 8.0, 0.0, 0.0), frozenset({"P00"})
    )
    result = optimize(inst)
    assert result.objective == pytest.approx(brute_force(inst)[0]) == pytest.approx(21.0)
    assert result.selected == ("P00", "P03", "P04")


def test_no_solution_within_the_time_limit_falls_back_to_greedy_without_claiming_optimality():
    instance = _many(200, k_max=4)
    result = optimize(instance, time_limit=0.0)
    assert (result.status, result.method, result.optimal) == ("greedy_fallback", "greedy", False)
    assert result.selected == tuple(greedy(instance, reduce_dominated(instance)))
    chosen = [instance.by_id()[i] for i in result.selected]
    assert violations(chosen, instance) == []
    assert result.objective == pytest.approx(objective(chosen, instance))


# Bound fixing (policies/bound_fixing.py): only candidates in no optimal set go.


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_member_of_every_optimal_set_survives(instance):
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    _, winners = brute_force(instance)
    kept, _ = fix_by_bound(pool, instance)
    kept_ids = {c.id for c in kept}
    assert instance.lock_in <= kept_ids
    for winner in winners:
        assert set(winner) <= kept_ids


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_n=8))
def test_lp_bound_is_at_least_every_portfolio_containing_the_candidate(instance):
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    bounds = lp_bounds(pool, instance)
    if bounds is None:
        return
    _, upper = bounds
    for size in range(instance.k_min, instance.k_max + 1):
        for combo in combinations(range(len(pool)), size):
            chosen = [pool[i] for i in combo]
            if violations(chosen, instance):
                continue
            value = objective(chosen, instance)
            for i in combo:
                assert upper[i] >= value - 1e-6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_n=8), st.integers(min_value=1, max_value=4))
def test_priced_lp_bound_from_a_few_columns_is_at_least_every_portfolio_containing_the_candidate(
    instance, first_columns
):
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    priced = lp_bounds(pool, instance, first_columns=first_columns)
    whole = lp_bounds(pool, instance, first_columns=len(pool))
    assert (priced is None) == (whole is None)
    if priced is None:
        return
    assert priced[0] == pytest.approx(whole[0], abs=1e-6)
    _, upper = priced
    for size in range(instance.k_min, instance.k_max + 1):
        for combo in combinations(range(len(pool)), size):
            chosen = [pool[i] for i in combo]
            if violations(chosen, instance):
                continue
            value = objective(chosen, instance)
            for i in combo:
                assert upper[i] >= value - 1e-6


def test_priced_lp_relaxation_equals_the_relaxation_over_every_candidate():
    instance = _many(300, seed=5, k_max=6)
    pool = list(instance.candidates)
    z_priced, upper_priced = lp_bounds(pool, instance, first_columns=10)
    z_whole, _ = lp_bounds(pool, instance, first_columns=len(pool))
    assert z_priced == pytest.approx(z_whole, abs=1e-6)
    assert (upper_priced <= z_priced + 1e-9).all()


def test_bound_fixing_removes_candidates_on_a_larger_instance():
    instance = _many(40)
    kept, incumbent = fix_by_bound(list(instance.candidates), instance)
    assert incumbent is not None
    assert len(kept) < len(instance.candidates)
    smaller = SelectionInstance(
        tuple(kept),
        instance.value_weights,
        instance.repeat_credit,
        instance.k_min,
        instance.k_max,
        instance.institution_cap,
        instance.capacity,
    )
    best, _ = brute_force(smaller)
    assert best == pytest.approx(brute_force(instance)[0], abs=1e-6)


def test_the_node_limited_milp_finds_a_feasible_set_no_better_than_the_optimum():
    from policies.bound_fixing import small_milp

    instance = _many(40)
    value = small_milp(instance, list(instance.candidates))
    assert value is not None
    assert value <= brute_force(instance)[0] + 1e-6


# Solver tuning (issue 14): cuts only at the root must not change the optimum.


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_root_only_cuts_reach_the_same_optimum_as_cuts_at_every_node(instance):
    node_cuts = {**TUNED_OPTIONS, "mip_allow_cut_separation_at_nodes": True}
    assert TUNED_OPTIONS["mip_allow_cut_separation_at_nodes"] is False
    ours = optimize(instance, time_limit=30)
    before = optimize(instance, time_limit=30, options=node_cuts)
    assert ours.status == before.status
    assert ours.objective == pytest.approx(before.objective, abs=1e-6)


def test_root_only_cuts_reach_the_same_optimum_on_a_larger_instance():
    instance = _many(300, seed=11, k_max=6)
    node_cuts = {**TUNED_OPTIONS, "mip_allow_cut_separation_at_nodes": True}
    ours = optimize(instance, time_limit=60)
    before = optimize(instance, time_limit=60, options=node_cuts)
    assert ours.optimal and before.optimal
    assert ours.objective == pytest.approx(before.objective, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(instances(max_n=12))
def test_column_arrays_list_every_value_of_every_candidate_both_ways(instance):
    candidates = list(reversed(instance.candidates))  # any order, kept as given
    a = candidate_arrays(candidates, instance)
    assert a.ids == [c.id for c in candidates]
    for i, c in enumerate(candidates):
        assert [a.values[k] for k in a.members[i]] == sorted(c.values)
    for k, value in enumerate(a.values):
        assert a.covering[k] == [i for i, c in enumerate(candidates) if value in c.values]


# Tie-break swaps (issue 14): the vectorised pass reaches the set the pair-by-pair loop reaches.


@st.composite
def tied_instances(draw):
    """Instances with many equal qualities and few values, so equal-objective swaps abound."""
    n = draw(st.integers(min_value=2, max_value=14))
    candidates = tuple(
        Candidate(
            id=f"T{draw(st.integers(0, 99)):02d}-{i}",
            institution=draw(st.sampled_from(["I1", "I2", "I3"])),
            quality=float(draw(st.sampled_from([0, 0, 1, 2]))),
            resources=(
                float(draw(st.integers(0, 3))),
                float(draw(st.integers(0, 3))),
                0.0,
                float(draw(st.integers(0, 1))),
            ),
            values=frozenset(draw(st.lists(st.sampled_from(VALUES[:3]), max_size=2))),
        )
        for i in range(n)
    )
    k = draw(st.integers(1, min(5, n)))
    instance = SelectionInstance(
        candidates=candidates,
        value_weights=WEIGHTS,
        repeat_credit=draw(st.sampled_from([(1.0, 0.5, 0.25), (1.0,), (), (2.0, 2.0)])),
        k_min=1,
        k_max=k,
        institution_cap=draw(st.integers(2, 4)),
        capacity=(
            float(draw(st.integers(3, 15))),
            float(draw(st.integers(3, 15))),
            0.0,
            float(draw(st.integers(1, 5))),
        ),
    )
    pool = list(instance.candidates)
    selected = draw(
        st.lists(st.sampled_from(pool), min_size=1, max_size=k, unique_by=lambda c: c.id)
    )
    lock_in = draw(st.lists(st.sampled_from([c.id for c in selected]), max_size=1))
    pool = draw(st.permutations(pool)) if draw(st.booleans()) else pool
    if draw(st.booleans()):
        pool = [c for c in pool if c.id not in {s.id for s in selected}][: n // 2] + pool[n // 2 :]
    return instance.with_locks(lock_in=lock_in), selected, pool


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_instances())
def test_vectorised_tie_break_swaps_reach_the_same_set_as_the_pair_by_pair_loop(case):
    instance, selected, pool = case
    expected = canonical_swaps_loop(list(selected), pool, instance)
    assert canonical_swaps(list(selected), pool, instance) == expected
    arrays = candidate_arrays(pool, instance)
    assert canonical_swaps(list(selected), pool, instance, arrays) == expected


def test_tie_break_swaps_move_to_the_earlier_ids_on_a_large_tied_instance():
    instance = _many(300, seed=5, k_max=6)
    result = optimize(instance)
    chosen = [instance.by_id()[i] for i in result.selected]
    pool = list(instance.candidates)
    assert canonical_swaps(chosen, pool, instance) == canonical_swaps_loop(chosen, pool, instance)
    late = sorted(pool, key=lambda c: c.id)[-6:]
    assert canonical_swaps(late, pool, instance) == canonical_swaps_loop(late, pool, instance)


# HiGHS's parallel tree search (issue 14): deterministic, and the optimum of one worker.


def _generated(n, seed):
    """The benchmark's instance of n generated nominations, and the candidates the optimizer keeps."""
    from ngc_pilot import synthetic
    from policies.selection_policy import load_policy

    instance = synthetic.instance(n, load_policy(), seed)
    return reduce_candidates(instance)[0], instance


def test_the_parallel_search_gives_the_same_nodes_and_set_every_time_and_one_workers_optimum():
    kept, instance = _generated(1000, seed=2021)
    lp, n = build_compact(candidate_arrays(kept, instance), instance)
    first, again = solve(lp, n, 60), solve(lp, n, 60)
    serial = solve(lp, n, 60, SERIAL_SEARCH)
    assert TUNED_OPTIONS["parallel"] == "on" and SERIAL_SEARCH["parallel"] == "off"
    assert first.status == again.status == serial.status == "optimal"
    assert first.nodes > 100  # a real tree, shared by the two workers
    assert first.nodes == again.nodes
    assert (first.x > 0.5).tolist() == (again.x > 0.5).tolist()
    assert first.objective == pytest.approx(serial.objective, abs=1e-6)


def test_a_run_highs_refuses_raises_instead_of_reading_as_no_solution():
    instance = _many(40, k_max=4)
    lp, n = build_compact(candidate_arrays(list(instance.candidates), instance), instance)
    assert solve(lp, n, 30).status == "optimal"  # HiGHS's scheduler now runs SEARCH_THREADS
    highs = new_highs(30)
    highs.setOptionValue("threads", SEARCH_THREADS + 1)
    highs.passModel(lp)
    with pytest.raises(RuntimeError, match=f"SEARCH_THREADS = {SEARCH_THREADS}"):
        run(highs)
