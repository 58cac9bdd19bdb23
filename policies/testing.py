"""Oracles for tests and benchmarks: brute force and the naive textbook model.

Why it exists: the optimizer's claims — optimal, and faster than the obvious
formulation — need independent references.  :func:`brute_force` enumerates
every set (small inputs only; the hypothesis property test compares the
optimizer with it), and :func:`naive_model` / :func:`solve_naive` are the
textbook formulation with HiGHS's default options (``bench/selection.py``
times it against the optimizer, a unit test checks both agree).
:func:`canonical_swaps_loop` is the tie-break as a plain loop over pairs, the
reference for the optimizer's vectorised one (property test, benchmark).  Like
structlog's ``testing`` module, it ships with the package so that tests and
benchmarks use the same code, but nothing in the application calls it.

Deliberately not here: anything the optimizer relies on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

import highspy
import numpy as np

from policies.portfolio import Candidate, SelectionInstance, objective, violations
from policies.selection_model import TOLERANCE, candidate_arrays
from policies.solver import HIGHS_DEFAULTS, solve


def brute_force(instance: SelectionInstance) -> tuple[float, list[tuple[str, ...]]]:
    """Best objective and every optimal set, by enumeration (for tests on small inputs)."""
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    best = -1.0
    winners: list[tuple[str, ...]] = []
    for size in range(instance.k_min, instance.k_max + 1):
        for combo in combinations(pool, size):
            if violations(list(combo), instance):
                continue
            value = objective(list(combo), instance)
            ids = tuple(sorted(c.id for c in combo))
            if value > best + TOLERANCE:
                best, winners = value, [ids]
            elif abs(value - best) <= TOLERANCE:
                winners.append(ids)
    return best, winners


def canonical_swaps_loop(
    selected: list[Candidate], pool: Sequence[Candidate], instance: SelectionInstance
) -> list[Candidate]:
    """The tie-break swaps pair by pair (the optimizer's before issue 14; same contract)."""
    current = sorted(selected, key=lambda c: c.id)
    best = objective(current, instance)
    changed = True
    while changed:
        changed = False
        ids = {c.id for c in current}
        for out in sorted(current, key=lambda c: c.id, reverse=True):
            if out.id in instance.lock_in:
                continue
            for inn in pool:
                if inn.id in ids or inn.id >= out.id:
                    continue
                move = [c for c in current if c is not out] + [inn]
                if abs(objective(move, instance) - best) <= TOLERANCE and not violations(
                    move, instance
                ):
                    current = sorted(move, key=lambda c: c.id)
                    changed = True
                    break
            if changed:
                break
    return current


def naive_model(instance: SelectionInstance) -> tuple[highspy.HighsLp, int]:
    """The textbook formulation, for the benchmark baseline only.

    Binary indicators ``z_vr`` ("at least r+1 selected projects cover v") linked
    by ``(r+1)·z_vr ≤ Σ x_i``, rows added one by one, every candidate kept.
    Same optimum as the compact model, weaker relaxation.
    """
    a = candidate_arrays(list(instance.candidates), instance)
    n = len(a.ids)
    credits = [c for c in instance.repeat_credit if c > 0]
    m = len(a.values)
    highs_cols = n + m * len(credits)
    rows: list[tuple[float, float, dict[int, float]]] = []
    for v in range(m):
        for r in range(len(credits)):
            entries = {i: -1.0 for i in a.covering[v]}
            entries[n + v * len(credits) + r] = float(r + 1)
            rows.append((-highspy.kHighsInf, 0.0, entries))
    rows.append((float(instance.k_min), float(instance.k_max), {i: 1.0 for i in range(n)}))
    for d in range(4):
        rows.append(
            (
                -highspy.kHighsInf,
                float(instance.capacity[d]),
                {i: float(a.resources[i, d]) for i in range(n)},
            )
        )
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[int(a.institution[i])].append(i)
    for members in groups.values():
        rows.append(
            (-highspy.kHighsInf, float(instance.institution_cap), dict.fromkeys(members, 1.0))
        )
    lp = highspy.HighsLp()
    lp.num_col_ = highs_cols
    lp.num_row_ = len(rows)
    lp.col_cost_ = np.concatenate(
        [a.quality, np.repeat(a.weights, len(credits)) * np.tile(credits, m)]
    )
    lp.col_lower_ = np.array(
        [1.0 if cid in instance.lock_in else 0.0 for cid in a.ids] + [0.0] * (highs_cols - n)
    )
    lp.col_upper_ = np.array(
        [0.0 if cid in instance.lock_out else 1.0 for cid in a.ids] + [1.0] * (highs_cols - n)
    )
    lp.row_lower_ = np.array([r[0] for r in rows])
    lp.row_upper_ = np.array([r[1] for r in rows])
    starts, index, value = [0], [], []
    for _, _, row_entries in rows:
        for col, coef in sorted(row_entries.items()):
            index.append(col)
            value.append(coef)
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * highs_cols
    return lp, n


def solve_naive(
    instance: SelectionInstance, time_limit: float | None = 60.0
) -> tuple[str, float | None, float | None]:
    """Solve :func:`naive_model` with HiGHS's default options; return (status, objective, gap)."""
    lp, n = naive_model(instance)
    outcome = solve(lp, n, time_limit, HIGHS_DEFAULTS)
    return outcome.status, outcome.objective, outcome.gap
