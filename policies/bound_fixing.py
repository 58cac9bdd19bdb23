"""Bound fixing: drop candidates the LP relaxation proves are in no optimal portfolio.

Why it exists: after the dominance reduction thousands of candidates can
remain, and HiGHS spends most of its time at the root discovering that most
of them can never be chosen.  That proof is cheap to give up front:

1. the LP relaxation of the compact model, optimum ``Z_LP`` with reduced
   costs ``d``.  By weak duality the LP dual solution stays feasible when
   ``x_i`` is forced to 1, so every portfolio containing ``i`` is worth at
   most ``Z_LP + d_i`` (``d_i ≤ 0`` for a column at its lower bound);
2. an incumbent ``Z`` (greedy + local search on the pool and on the
   candidates with the best such bounds, and a node-limited MILP on the
   best 40 of them; a feasible set): the optimum is at least ``Z``;
3. if that bound is below ``Z`` (with a safety margin for the LP's
   tolerances), ``i`` is in *no* optimal portfolio and is dropped.

Because only candidates outside every optimal set go, the optimum, the set
of optimal portfolios and therefore the tie-breaking (``canonical_swaps``)
are unchanged.  The property test checks this against brute force.

Deliberately not here: branching, cuts, or any heuristic pruning (a
candidate is dropped only on a proof), and solving the MILP (``solver``).
"""

from __future__ import annotations

from collections.abc import Sequence

import highspy
import numpy as np

from policies.greedy import greedy
from policies.portfolio import Candidate, SelectionInstance, objective, violations
from policies.selection_model import build_compact, candidate_arrays, row_layout, subset_arrays
from policies.solver import SERIAL_SEARCH, new_highs, run, solve

# Bounds within this of the incumbent keep the candidate: the LP's primal and
# dual feasibility tolerances are 1e-7, and a wrong drop would lose the optimum.
MARGIN = 1e-4
# Greedy is also run on the candidates with the best LP bounds, this many.
PART_SIZES = (30, 60, 100, 200)
# ... and a small MILP on this many of them, stopped after this many nodes.
SUB_MILP_SIZE = 40
SUB_MILP_NODES = 100
# ... only on pools this large: below, greedy is already within 0.01 % of the
# optimum on the benchmark's instances (N = 1,000) and the MILP costs more
# than the candidates it removes save.
SUB_MILP_FROM = 2000
# The LP relaxation is first solved on this many candidates, then priced (lp_bounds).
PRICED_COLUMNS = 1000
# A candidate outside the priced LP whose reduced cost exceeds this joins it
# (HiGHS's dual feasibility tolerance is 1e-7; MARGIN covers the rest).
PRICING_TOLERANCE = 1e-9


def incumbent(instance: SelectionInstance, pool: Sequence[Candidate]) -> float | None:
    """The value of a feasible portfolio from ``pool`` (greedy + 1-swaps), or None."""
    ids = greedy(instance, pool)
    if ids is None:
        return None
    by_id = {c.id: c for c in pool}
    return objective([by_id[i] for i in ids], instance)


def lp_bounds(
    pool: Sequence[Candidate], instance: SelectionInstance, first_columns: int = PRICED_COLUMNS
) -> tuple[float, np.ndarray] | None:
    """(``Z_LP``, per candidate an upper bound on any portfolio containing it), or None.

    None when the relaxation is not solved to optimality (then nothing can be
    proven and nothing is dropped).

    The relaxation is solved by pricing: first on the ``first_columns``
    candidates with the most quality plus first-credit coverage (and every
    locked-in one), then every other candidate's reduced cost is computed
    from that LP's duals (the rows are the full pool's: ``subset_arrays``);
    candidates that would improve it are added and the LP solved again,
    until none would (if the part's LP is infeasible, every candidate is
    added at once).  The last duals are then optimal for the whole pool's
    relaxation, so ``Z_LP`` and every reduced cost are those of the LP over
    all candidates.  At N = 10,000 this costs ~0.06 s instead of ~0.25 s
    (HiGHS's simplex prices every column at every iteration).
    """
    a = candidate_arrays(pool, instance)
    n = len(a.ids)
    m = len(a.values)
    owner = np.repeat(np.arange(n), [idx.size for idx in a.members])
    flat = np.concatenate(a.members) if n else np.zeros(0, dtype=np.int64)
    first = instance.repeat_credit[0] if instance.repeat_credit else 0.0
    potential = a.quality + np.bincount(owner, weights=a.weights[flat] * first, minlength=n)
    active = np.zeros(n, dtype=bool)
    active[np.argsort(-potential, kind="stable")[:first_columns]] = True
    active |= np.array([cid in instance.lock_in for cid in a.ids], dtype=bool)
    while True:
        index = np.flatnonzero(active)
        part = subset_arrays(a, index)
        lp, n_part = build_compact(part, instance)
        lp.integrality_ = []
        highs = new_highs(None, {})
        highs.passModel(lp)
        run(highs)
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            if active.all():
                return None
            # The part alone can be infeasible (e.g. too few that fit for
            # k_min) where the pool is not: solve over every candidate.
            active[:] = True
            continue
        solution = highs.getSolution()
        duals = np.asarray(solution.row_dual, dtype=float)
        # The part's rows are the pool's, except resource and institution rows
        # that cannot bind for the part: their dual is 0 (the part's optimum
        # satisfies them, with x = 0 outside the part).
        part_resources, part_insts = row_layout(part, instance)
        mu = np.zeros(4)
        for d, row in part_resources.items():
            mu[d] = duals[row]
        nu = np.zeros(len(a.institutions))
        for code, row in part_insts.items():
            nu[code] = duals[row]
        # Reduced cost of x_i: its cost minus its column times the duals
        # (value rows hold -1, the size row 1, resources a_id, institution 1).
        reduced = (
            a.quality
            - duals[m]
            - a.resources @ mu
            - nu[a.institution]
            + np.bincount(owner, weights=duals[:m][flat], minlength=n)
        )
        improving = ~active & (reduced > PRICING_TOLERANCE)
        if not improving.any():
            break
        active |= improving
    z_lp = float(highs.getInfo().objective_function_value)
    x = np.zeros(n)
    x[index] = np.asarray(solution.col_value[:n_part], dtype=float)
    # A column at 0 with reduced cost d_i ≤ 0 (maximisation): forcing it to 1
    # lowers the dual bound by |d_i|.  Anything else gives no bound beyond Z_LP.
    at_zero = x <= 1e-9
    penalty = np.where(at_zero, np.minimum(reduced, 0.0), 0.0)
    return z_lp, z_lp + penalty


def fix_by_bound(
    pool: Sequence[Candidate], instance: SelectionInstance
) -> tuple[tuple[Candidate, ...], float | None]:
    """The candidates of ``pool`` that may be in an optimal portfolio, and the incumbent value.

    ``pool`` must contain an optimal portfolio of ``instance`` (e.g. the
    dominance reduction's output); the result then contains every member of
    every optimal portfolio drawn from ``pool``.  Locked-in candidates always
    stay.
    """
    if len(pool) <= instance.k_max:
        return tuple(pool), None
    bounds = lp_bounds(pool, instance)
    if bounds is None:
        return tuple(pool), None
    _, upper = bounds
    z = best_incumbent(instance, pool, upper)
    if z is None:
        return tuple(pool), None
    return survivors(pool, instance, upper, z), z


def survivors(
    pool: Sequence[Candidate], instance: SelectionInstance, upper: np.ndarray, z: float
) -> tuple[Candidate, ...]:
    """The candidates of ``pool`` whose LP bound ``upper`` reaches the incumbent value ``z``
    (within ``MARGIN``), and the locked-in ones."""
    margin = MARGIN * max(1.0, abs(z) * 1e-3)
    keep = upper >= z - margin
    return tuple(c for c, k in zip(pool, keep, strict=True) if k or c.id in instance.lock_in)


def best_incumbent(
    instance: SelectionInstance, pool: Sequence[Candidate], upper: np.ndarray
) -> float | None:
    """The best greedy portfolio over the whole pool and its most promising parts.

    Greedy on thousands of candidates can fill up on wide-coverage projects
    that capacity then punishes; on the candidates with the highest LP bounds
    it lands within a fraction of a percent of the optimum, and a better
    incumbent proves more candidates away.  Deterministic: ties in the bound
    keep the pool's (id) order.
    """
    order = np.argsort(-upper, kind="stable")
    best = incumbent(instance, pool)
    for size in PART_SIZES:
        if size >= len(pool):
            break
        part = [pool[i] for i in sorted(order[:size])]
        value = incumbent(instance, part)
        if value is not None and (best is None or value > best):
            best = value
    if len(pool) >= SUB_MILP_FROM:
        value = small_milp(instance, [pool[i] for i in sorted(order[:SUB_MILP_SIZE])])
        if value is not None and (best is None or value > best):
            best = value
    return best


def small_milp(instance: SelectionInstance, part: Sequence[Candidate]) -> float | None:
    """The best set a node-limited MILP finds among ``part`` (a feasible set's value), or None.

    A node limit, not a time limit, and one search worker (how two share
    the nodes up to the limit is HiGHS's to change), so the same input always
    gives the same value.
    """
    if len(part) < instance.k_min:
        return None
    a = candidate_arrays(part, instance)
    lp, n = build_compact(a, instance)
    outcome = solve(lp, n, None, {**SERIAL_SEARCH, "mip_max_nodes": SUB_MILP_NODES})
    if outcome.x is None:
        return None
    chosen = [part[i] for i in np.flatnonzero(outcome.x > 0.5)]
    if violations(chosen, instance):
        return None
    return objective(chosen, instance)
