"""Choose the best portfolio: an exact MILP with HiGHS, certified optimal.

Why it exists: it is the one entry point for selection (:func:`optimize`)
and decides what its outcome means — certified optimal, stopped at the time
limit with a gap, the greedy fallback, or infeasible with the reason.  The
steps, each in its own module:

1. drop candidates provably never needed (``dominance``), then those the
   LP relaxation's bound proves are in no optimal set (``bound_fixing``);
2. build the compact model (``selection_model``) and solve it with
   ``mip_rel_gap = 0``, so "optimal" means proven optimal (``solver``);
3. only if HiGHS finds no solution in time: greedy + 1-swap local search
   (``greedy``), reported as such, with no optimality claim;
4. if the model is infeasible: say which constraint is to blame
   (``infeasibility``).

Ties: candidates are ordered by id before the model is built and HiGHS runs
with a fixed seed and a fixed number of search workers (``solver``), so the
same input always yields the same set; :func:`canonical_swaps` then moves, among sets of equal objective one
swap apart, to the one with the alphabetically earlier ids.

Deliberately not here: loading data, recording decisions, explanations
(``explain``), and the test and benchmark oracles (``policies.testing``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from policies.bound_fixing import fix_by_bound
from policies.dominance import reduce_dominated
from policies.greedy import greedy
from policies.infeasibility import diagnose_infeasibility
from policies.portfolio import Candidate, SelectionInstance, objective, violations
from policies.selection_model import (
    TOLERANCE,
    CandidateArrays,
    build_compact,
    candidate_arrays,
)
from policies.solver import TUNED_OPTIONS, solve


@dataclass(frozen=True)
class SelectionResult:
    """The outcome of one optimisation."""

    selected: tuple[str, ...]
    objective: float
    optimal: bool
    gap: float | None
    bound: float | None
    status: str  # optimal | time_limit | infeasible | greedy_fallback
    method: str  # milp | greedy | none
    seconds: float
    candidates_considered: int
    candidates_after_reduction: int
    infeasibility: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def feasible(self) -> bool:
        return self.status != "infeasible"


def optimize(
    instance: SelectionInstance,
    time_limit: float | None = 10.0,
    *,
    options: Mapping[str, bool | int | float] = TUNED_OPTIONS,
) -> SelectionResult:
    """Solve the selection exactly; fall back to greedy only if HiGHS finds nothing in time.

    ``options`` are the HiGHS options of the final MILP (the benchmark passes
    older tunings to compare them in the same run).
    """
    started = time.perf_counter()
    unknown = (instance.lock_in | instance.lock_out) - {c.id for c in instance.candidates}
    clash = instance.lock_in & instance.lock_out
    if clash or unknown:
        problems = []
        if clash:
            problems.append(f"locked both in and out: {', '.join(sorted(clash))}")
        if unknown:
            problems.append(f"locked but not a selectable candidate: {', '.join(sorted(unknown))}")
        return _infeasible(instance, problems, started, len(instance.candidates), 0)
    considered = len(instance.candidates)
    kept, reduced = reduce_candidates(instance)
    by_id = {c.id: c for c in reduced}
    a = candidate_arrays(kept, instance)
    lp, n = build_compact(a, instance)
    outcome = solve(lp, n, time_limit, options)
    if outcome.status == "infeasible":
        return _infeasible(
            instance, diagnose_infeasibility(instance), started, considered, len(reduced)
        )
    if outcome.x is None:
        fallback_ids = greedy(instance, reduced)
        if fallback_ids is None:
            return _infeasible(
                instance,
                ("no feasible selection found within the time limit",),
                started,
                considered,
                len(reduced),
            )
        value = objective([by_id[i] for i in fallback_ids], instance)
        return SelectionResult(
            selected=tuple(fallback_ids),
            objective=round(value, 6),
            optimal=False,
            gap=None,
            bound=None,
            status="greedy_fallback",
            method="greedy",
            seconds=time.perf_counter() - started,
            candidates_considered=considered,
            candidates_after_reduction=len(reduced),
            notes=(
                "the solver found no solution in time; this is the greedy + local search result",
            ),
        )
    selected = [by_id[a.ids[i]] for i in np.flatnonzero(outcome.x > 0.5)]
    selected = canonical_swaps(selected, kept, instance, a)
    value = objective(selected, instance)
    optimal = outcome.status == "optimal"
    gap = outcome.gap
    return SelectionResult(
        selected=tuple(sorted(c.id for c in selected)),
        objective=round(value, 6),
        optimal=optimal,
        gap=0.0 if optimal else (None if gap is None else float(gap)),
        bound=None if outcome.bound is None else float(outcome.bound),
        status=outcome.status,
        method="milp",
        seconds=time.perf_counter() - started,
        candidates_considered=considered,
        candidates_after_reduction=len(kept),
    )


def reduce_candidates(
    instance: SelectionInstance,
) -> tuple[tuple[Candidate, ...], tuple[Candidate, ...]]:
    """(candidates for the MILP, candidates for the greedy fallback).

    Bound fixing first: it is cheap on every candidate and leaves few, so the
    dominance reduction (quadratic) then runs on few.  Both only drop
    candidates some optimal set can do without, so the optimum stays.
    """
    pool = tuple(c for c in instance.candidates if c.id not in instance.lock_out)
    fixed, _ = fix_by_bound(pool, instance)
    if len(fixed) == len(pool):
        reduced = reduce_dominated(instance)
        return reduced, reduced
    restricted = dataclasses.replace(instance, candidates=fixed, lock_out=frozenset())
    return reduce_dominated(restricted), fixed


def canonical_swaps(
    selected: list[Candidate],
    pool: Sequence[Candidate],
    instance: SelectionInstance,
    arrays: CandidateArrays | None = None,
) -> list[Candidate]:
    """Among equally good sets one swap apart, prefer the alphabetically earlier ids.

    From the current set, the first move taken is the one with the latest
    ``out`` (by id) and, for it, the first ``inn`` in ``pool`` order that is
    earlier by id, not selected, feasible and keeps the objective within
    ``TOLERANCE`` of the start; then the search starts over.  numpy scores
    every ``inn`` for an ``out`` at once (``arrays`` are ``pool``'s, if the
    caller has them) with a little slack, and each survivor, in pool order,
    is confirmed with the exact :func:`objective` and :func:`violations`, so
    the set is the one a pair-by-pair loop over ``pool`` would reach
    (``policies.testing.canonical_swaps_loop``; a property test compares them).
    """
    current = sorted(selected, key=lambda c: c.id)
    best = objective(current, instance)
    pool = list(pool)
    if not pool or not current:
        return current
    known = {c.id for c in pool}
    extra = [c for c in current if c.id not in known]
    if arrays is None or extra or arrays.ids != [c.id for c in pool]:
        arrays = candidate_arrays(pool + extra, instance)
    a = arrays
    position = {cid: i for i, cid in enumerate(a.ids)}
    order = sorted(range(len(a.ids)), key=a.ids.__getitem__)
    rank = np.empty(len(a.ids), dtype=np.int64)
    rank[order] = np.arange(len(a.ids))
    in_pool = np.arange(len(a.ids)) < len(pool)
    rows = np.repeat(np.arange(len(a.ids)), [m.size for m in a.members])
    flat = np.concatenate(a.members) if len(a.ids) else np.zeros(0, dtype=np.int64)
    credits = np.array(instance.repeat_credit, dtype=float)
    padded = np.append(credits, 0.0)  # the credit of the (count+1)-th cover
    capacity = np.array(instance.capacity, dtype=float)
    slack = 1e-6  # numpy's sums round differently; the exact check decides
    changed = True
    while changed:
        changed = False
        chosen = np.array([position[c.id] for c in current], dtype=np.int64)
        taken = np.zeros(len(a.ids), dtype=bool)
        taken[chosen] = True
        counts = np.bincount(flat[taken[rows]], minlength=len(a.values))
        per_inst = np.bincount(a.institution[chosen], minlength=len(a.institutions))
        used = a.resources[chosen].sum(axis=0)
        for out in sorted(current, key=lambda c: c.id, reverse=True):
            if out.id in instance.lock_in:
                continue
            o = position[out.id]
            rest_counts = counts.copy()
            rest_counts[a.members[o]] -= 1
            rest_inst = per_inst.copy()
            rest_inst[a.institution[o]] -= 1
            rest_used = used - a.resources[o]
            rest_value = _value(a, chosen[chosen != o], rest_counts, credits)
            next_credit = padded[np.minimum(rest_counts, credits.size)]
            gains = a.quality + np.bincount(
                rows, weights=(a.weights * next_credit)[flat], minlength=len(a.ids)
            )
            maybe = (
                in_pool
                & ~taken
                & (rank < rank[o])
                & (np.abs(rest_value + gains - best) <= TOLERANCE + slack)
                & np.all(a.resources + rest_used <= capacity + 1e-9 + slack, axis=1)
                & (rest_inst[a.institution] < instance.institution_cap)
            )
            ids = {c.id for c in current}
            for j in np.flatnonzero(maybe):
                inn = pool[j]
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


def _value(
    a: CandidateArrays, chosen: np.ndarray, counts: np.ndarray, credits: np.ndarray
) -> float:
    """The objective of the candidates ``chosen`` (indices into ``a``) whose value counts are ``counts``."""
    cumulative = np.concatenate([[0.0], np.cumsum(credits)])
    total = cumulative[np.minimum(counts, credits.size)]
    return float(a.quality[chosen].sum() + (a.weights * total).sum())


def _infeasible(
    instance: SelectionInstance,
    reasons: Sequence[str],
    started: float,
    considered: int,
    reduced: int,
) -> SelectionResult:
    """An empty result that says why no selection is possible."""
    return SelectionResult(
        selected=(),
        objective=0.0,
        optimal=False,
        gap=None,
        bound=None,
        status="infeasible",
        method="none",
        seconds=time.perf_counter() - started,
        candidates_considered=considered,
        candidates_after_reduction=reduced,
        infeasibility=tuple(reasons),
    )
