"""Choose the best portfolio: an exact MILP with HiGHS, certified optimal.

The model (see ``portfolio`` for the objective)::

    max  Σ q_i x_i + Σ_v Σ_r w_v c_r y_vr
    s.t. Σ_r y_vr ≤ Σ_{i covers v} x_i        for every value v
         k_min ≤ Σ x_i ≤ k_max
         Σ a_id x_i ≤ C_d                     for every resource d
         Σ_{i ∈ I} x_i ≤ cap                  for every institution I
         x binary, 0 ≤ y ≤ 1, locks fix x

Because the credits c_r never increase, the y need not be integer: the LP
fills them in order, which keeps the model compact (one row per value instead
of indicator variables per value and rank).  Before solving, candidates that
are provably never needed are removed (:func:`reduce_dominated`), a greedy +
1-swap local search is the fallback, and HiGHS runs with
``mip_rel_gap = 0`` so "optimal" means proven optimal.

Ties: candidates are ordered by id before the model is built and HiGHS runs
single-threaded with a fixed seed, so the same input always yields the same
set; :func:`canonical_swaps` then moves, among sets of equal objective one
swap apart, to the one with the alphabetically earlier ids.

Deliberately not here: loading data, recording decisions, explanations.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import highspy
import numpy as np

from policies.portfolio import (
    RESOURCES,
    Candidate,
    SelectionInstance,
    objective,
    violations,
)

TOLERANCE = 1e-6
# Tuned on generated instances (bench/selection.py): HiGHS's primal heuristics
# cost more than they find on this model.
SOLVER_OPTIONS: dict[str, bool | int | float] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_pscost_minreliable": 0,  # skip strong branching: cheaper nodes win here
}
_banner_suppressed = False


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


# --------------------------------------------------------------------------- helpers


def _new_highs(time_limit: float | None) -> highspy.Highs:
    """A silent HiGHS instance (its C banner would corrupt JSON on stdout)."""
    global _banner_suppressed
    if not _banner_suppressed:
        # HiGHS prints its banner from C on the first construction in a process.
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _banner_suppressed = True
    else:
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 1e-7)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", 0)
    for key, value in SOLVER_OPTIONS.items():
        highs.setOptionValue(key, value)
    if time_limit is not None:
        highs.setOptionValue("time_limit", float(time_limit))
    return highs


@dataclass
class _Arrays:
    """Column-oriented view of the candidates for vectorised work."""

    ids: list[str]
    quality: np.ndarray  # (n,)
    resources: np.ndarray  # (n, 4)
    institution: np.ndarray  # (n,) int codes
    institutions: list[str]
    values: list[str]  # value index -> name
    weights: np.ndarray  # (m,)
    members: list[np.ndarray]  # per candidate: value indices
    covering: list[list[int]]  # per value: candidate indices


def _arrays(candidates: Sequence[Candidate], instance: SelectionInstance) -> _Arrays:
    values = sorted({v for c in candidates for v in c.values})
    index = {v: k for k, v in enumerate(values)}
    institutions = sorted({c.institution for c in candidates})
    inst_index = {name: k for k, name in enumerate(institutions)}
    covering: list[list[int]] = [[] for _ in values]
    members = []
    for i, c in enumerate(candidates):
        idx = np.array(sorted(index[v] for v in c.values), dtype=np.int64)
        members.append(idx)
        for k in idx:
            covering[k].append(i)
    return _Arrays(
        ids=[c.id for c in candidates],
        quality=np.array([c.quality for c in candidates], dtype=float),
        resources=np.array([c.resources for c in candidates], dtype=float).reshape(-1, 4),
        institution=np.array([inst_index[c.institution] for c in candidates], dtype=np.int64),
        institutions=institutions,
        values=values,
        weights=np.array([instance.value_weights.get(v, 0.0) for v in values], dtype=float),
        members=members,
        covering=covering,
    )


# ----------------------------------------------------------------- dominance reduction


def reduce_dominated(instance: SelectionInstance, pool_size: int = 1500) -> tuple[Candidate, ...]:
    """Drop candidates that some optimal portfolio provably never needs.

    ``j`` *dominates* ``i`` when swapping ``i`` out for ``j`` can never lower
    the objective or break capacity:

    * ``q_j − q_i ≥ L(i, j)``, where ``L`` is the first-credit weight of the
      values ``i`` covers and ``j`` does not (the most coverage the swap can
      lose; values both cover are kept, values only ``j`` covers only add);
    * ``j`` needs no more of any resource whose capacity can bind (a resource
      where even the ``k_max`` largest requests fit is ignored);
    * and, to rule out cycles, ``j`` is strictly better somewhere (quality, a
      resource, more values) or identical and earlier by id.

    If ``i`` has more dominators than a portfolio containing ``i`` could block
    — ``k_max − 1`` by being in it, plus all dominators in the institutions its
    other members could fill to the cap — one of them can always replace ``i``;
    repeating such swaps strictly improves (objective, quality, resources,
    values, id) lexicographically, so it ends in an optimal portfolio without
    any removed candidate.  Only the ``pool_size`` best-quality candidates are
    counted as dominators (a subset keeps the argument valid and the cost
    linear).  Locked-in candidates always stay; locked-out ones go first.
    """
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    n = len(pool)
    k = instance.k_max
    if n <= k:
        return tuple(pool)
    a = _arrays(pool, instance)
    first = instance.repeat_credit[0] if instance.repeat_credit else 0.0
    incidence = np.zeros((n, len(a.values)), dtype=np.float64)
    for i, idx in enumerate(a.members):
        incidence[i, idx] = 1.0
    weighted = incidence * (a.weights * first)
    total = weighted.sum(axis=1)
    n_values = incidence.sum(axis=1)
    largest = -np.sort(-a.resources, axis=0)[:k].sum(axis=0)
    binding = [d for d in range(4) if largest[d] > instance.capacity[d] + 1e-9]
    quality = a.quality
    columns = np.argsort(-quality, kind="stable")[: min(n, pool_size)]
    col_q = quality[columns]
    col_res = a.resources[columns]
    col_inc_t = incidence[columns].T
    col_vals = n_values[columns]
    saturable = (k - 1) // instance.institution_cap
    locked = np.array([c.id in instance.lock_in for c in pool])
    keep = np.ones(n, dtype=bool)
    chunk = 256
    for lo in range(0, n, chunk):
        rows = np.arange(lo, min(n, lo + chunk))
        lost = total[rows, None] - weighted[rows] @ col_inc_t  # L(i, j)
        margin = col_q[None, :] - quality[rows, None]
        ok = margin >= lost - 1e-9
        strict = margin > 1e-9
        for d in binding:
            diff = col_res[None, :, d] - a.resources[rows, None, d]
            ok &= diff <= 1e-9
            strict |= diff < -1e-9
        strict |= col_vals[None, :] > n_values[rows, None]
        strict |= columns[None, :] < rows[:, None]
        ok &= strict & (columns[None, :] != rows[:, None])
        counts = ok.sum(axis=1)
        for r in np.flatnonzero(counts >= k):
            i = int(rows[r])
            if locked[i]:
                continue
            dominators = columns[ok[r]]
            blocked = k - 1
            if saturable:
                others = a.institution[dominators]
                others = others[others != a.institution[i]]
                if others.size:
                    groups = np.sort(np.bincount(others))[::-1]
                    blocked += int(groups[:saturable].sum())
            if dominators.size > blocked:
                keep[i] = False
    return tuple(c for c, kept in zip(pool, keep, strict=True) if kept)


# --------------------------------------------------------------------- greedy search


class _State:
    """A set under construction, with the sums needed to score moves in O(nnz)."""

    def __init__(self, a: _Arrays, instance: SelectionInstance):
        self.a = a
        self.credits = np.array(instance.repeat_credit, dtype=float)
        self.capacity = np.array(instance.capacity, dtype=float)
        self.cap = instance.institution_cap
        n = len(a.ids)
        self.rows = np.repeat(np.arange(n), [m.size for m in a.members])
        self.flat = np.concatenate(a.members) if n else np.zeros(0, dtype=np.int64)
        self.chosen = np.zeros(n, dtype=bool)
        self.counts = np.zeros(len(a.values), dtype=np.int64)
        self.used = np.zeros(4)
        self.per_inst = np.zeros(len(a.institutions), dtype=np.int64)

    def _credit_at(self, counts: np.ndarray) -> np.ndarray:
        """Credit earned by the (counts+1)-th project covering each value."""
        size = self.credits.size
        return np.where(counts < size, self.credits[np.minimum(counts, size - 1)], 0.0)

    def gains(self, counts: np.ndarray) -> np.ndarray:
        """Objective gain of adding each candidate to a set with these value counts."""
        per_value = self.a.weights * self._credit_at(counts)
        n = len(self.a.ids)
        return self.a.quality + np.bincount(self.rows, weights=per_value[self.flat], minlength=n)

    def loss(self, i: int) -> float:
        """Objective lost by removing selected candidate ``i``."""
        idx = self.a.members[i]
        return float(
            self.a.quality[i] + (self.a.weights[idx] * self._credit_at(self.counts[idx] - 1)).sum()
        )

    def fits(self, used: np.ndarray, per_inst: np.ndarray) -> np.ndarray:
        ok = np.all(self.a.resources + used <= self.capacity + 1e-9, axis=1)
        return ok & (per_inst[self.a.institution] < self.cap) & ~self.chosen

    def add(self, i: int) -> None:
        self.chosen[i] = True
        self.counts[self.a.members[i]] += 1
        self.used += self.a.resources[i]
        self.per_inst[self.a.institution[i]] += 1

    def remove(self, i: int) -> None:
        self.chosen[i] = False
        self.counts[self.a.members[i]] -= 1
        self.used -= self.a.resources[i]
        self.per_inst[self.a.institution[i]] -= 1


def greedy(
    instance: SelectionInstance, candidates: Sequence[Candidate] | None = None, rounds: int = 50
) -> list[str] | None:
    """Greedy by marginal gain, then best-improvement 1-swaps; None if no feasible set found.

    Greedy alone can miss a feasible set when capacity binds (it may fill up on
    large projects before reaching ``k_min``); the MILP does not.  Vectorised
    over candidates, so it stays fast at tens of thousands of nominations.
    """
    pool = [
        c
        for c in (candidates if candidates is not None else instance.candidates)
        if c.id not in instance.lock_out
    ]
    if not pool:
        return None
    a = _arrays(pool, instance)
    state = _State(a, instance)
    locked = [i for i, c in enumerate(pool) if c.id in instance.lock_in]
    for i in locked:
        state.add(i)
    while state.chosen.sum() < instance.k_max:
        feasible = state.fits(state.used, state.per_inst)
        if not feasible.any():
            break
        # Keep room for the projects still needed to reach k_min: per resource,
        # the smallest remaining requests must still fit after this addition.
        still_needed = instance.k_min - int(state.chosen.sum()) - 1
        if still_needed > 0:
            reserve = np.sort(a.resources[feasible], axis=0)[:still_needed].sum(axis=0)
            roomy = np.all(a.resources + state.used + reserve <= state.capacity + 1e-9, axis=1)
            if (feasible & roomy).any():
                feasible &= roomy
        gains = np.where(feasible, state.gains(state.counts), -np.inf)
        if state.chosen.sum() >= instance.k_min and gains.max() <= 0:
            break
        state.add(int(np.argmax(gains)))
    selected = [pool[i] for i in np.flatnonzero(state.chosen)]
    if violations(selected, instance):
        return None
    locked_set = set(locked)
    for _ in range(rounds):
        best_delta, best_move = TOLERANCE, None
        if state.chosen.sum() < instance.k_max:
            gains = np.where(
                state.fits(state.used, state.per_inst), state.gains(state.counts), -np.inf
            )
            j = int(np.argmax(gains))
            if gains[j] > best_delta:
                best_delta, best_move = float(gains[j]), (None, j)
        for out in np.flatnonzero(state.chosen):
            if out in locked_set:
                continue
            loss = state.loss(int(out))
            state.remove(int(out))
            gains = np.where(
                state.fits(state.used, state.per_inst), state.gains(state.counts), -np.inf
            )
            gains[out] = -np.inf
            state.add(int(out))
            j = int(np.argmax(gains))
            if gains[j] - loss > best_delta:
                best_delta, best_move = float(gains[j] - loss), (int(out), j)
        if best_move is None:
            break
        out, j = best_move
        if out is not None:
            state.remove(out)
        state.add(j)
    return sorted(pool[i].id for i in np.flatnonzero(state.chosen))


# ---------------------------------------------------------------------------- MILP


def _build_compact(a: _Arrays, instance: SelectionInstance) -> tuple[highspy.HighsLp, int]:
    """Column-wise model: x_0..x_{n-1} then y for each (value, rank)."""
    n = len(a.ids)
    credits = [c for c in instance.repeat_credit if c > 0]
    m = len(a.values)
    n_y = m * len(credits)
    lp = highspy.HighsLp()
    lp.num_col_ = n + n_y
    cost = np.concatenate([a.quality, np.repeat(a.weights, len(credits)) * np.tile(credits, m)])
    lp.col_cost_ = cost
    lower = np.zeros(n + n_y)
    upper = np.ones(n + n_y)
    for i, cid in enumerate(a.ids):
        if cid in instance.lock_in:
            lower[i] = 1.0
        if cid in instance.lock_out:
            upper[i] = 0.0
    lp.col_lower_ = lower
    lp.col_upper_ = upper

    # Rows: values (m), size (1), resources (<=4), institutions (those that can exceed the cap)
    rows_lower: list[float] = []
    rows_upper: list[float] = []
    row_of_value = np.arange(m)
    rows_lower += [-highspy.kHighsInf] * m
    rows_upper += [0.0] * m
    size_row = m
    rows_lower.append(float(instance.k_min))
    rows_upper.append(float(instance.k_max))
    resource_rows = {}
    for d in range(4):
        if a.resources[:, d].sum() > instance.capacity[d] + 1e-9:
            resource_rows[d] = len(rows_lower)
            rows_lower.append(-highspy.kHighsInf)
            rows_upper.append(float(instance.capacity[d]))
    per_inst = np.bincount(a.institution, minlength=len(a.institutions))
    inst_rows = {}
    for code, count in enumerate(per_inst):
        if count > instance.institution_cap:
            inst_rows[code] = len(rows_lower)
            rows_lower.append(-highspy.kHighsInf)
            rows_upper.append(float(instance.institution_cap))

    starts = [0]
    index: list[int] = []
    value: list[float] = []
    for i in range(n):
        col_index = list(row_of_value[a.members[i]])
        col_value = [-1.0] * len(col_index)
        col_index.append(size_row)
        col_value.append(1.0)
        for d, row in resource_rows.items():
            if a.resources[i, d]:
                col_index.append(row)
                col_value.append(float(a.resources[i, d]))
        row = inst_rows.get(int(a.institution[i]))
        if row is not None:
            col_index.append(row)
            col_value.append(1.0)
        index.extend(col_index)
        value.extend(col_value)
        starts.append(len(index))
    for v in range(m):
        for _ in credits:
            index.append(v)
            value.append(1.0)
            starts.append(len(index))
    lp.num_row_ = len(rows_lower)
    lp.row_lower_ = np.array(rows_lower)
    lp.row_upper_ = np.array(rows_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [highspy.HighsVarType.kContinuous] * n_y
    return lp, n


def _start_vector(a: _Arrays, instance: SelectionInstance, chosen: set[str]) -> np.ndarray:
    """A complete MIP start: x for the chosen set and the coverage y it earns.

    Without the y the start's objective would count quality only, and HiGHS
    could prune nothing with it.
    """
    credits = [c for c in instance.repeat_credit if c > 0]
    x = np.array([1.0 if cid in chosen else 0.0 for cid in a.ids])
    counts = np.zeros(len(a.values), dtype=np.int64)
    for i in np.flatnonzero(x):
        counts[a.members[i]] += 1
    ranks = np.arange(len(credits))
    y = (counts[:, None] > ranks[None, :]).astype(float).ravel()
    return np.concatenate([x, y])


def _solve(
    lp: highspy.HighsLp, n: int, time_limit: float | None, warm: np.ndarray | None
) -> tuple[str, np.ndarray | None, float | None, float | None, float | None]:
    """Run HiGHS; return (status, x, objective, bound, gap)."""
    highs = _new_highs(time_limit)
    highs.passModel(lp)
    if warm is not None:
        solution = highspy.HighsSolution()
        solution.col_value = list(warm)
        solution.value_valid = True
        highs.setSolution(solution)
    highs.run()
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None, None, None, None
    if not has_solution:
        return "no_solution", None, None, None, None
    x = np.array(highs.getSolution().col_value[:n])
    objective_value = info.objective_function_value
    bound = info.mip_dual_bound
    gap = info.mip_gap
    if model_status == highspy.HighsModelStatus.kOptimal:
        return "optimal", x, objective_value, bound, 0.0
    return "time_limit", x, objective_value, bound, gap


def optimize(instance: SelectionInstance, time_limit: float | None = 10.0) -> SelectionResult:
    """Solve the selection exactly; fall back to greedy only if HiGHS finds nothing in time."""
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
    reduced = reduce_dominated(instance)
    considered = len(instance.candidates)
    warm_ids = greedy(instance, reduced)
    by_id = {c.id: c for c in reduced}
    a = _arrays(reduced, instance)
    lp, n = _build_compact(a, instance)
    warm = None
    # The greedy result is the fallback, not a MIP start: with a start set,
    # highspy 1.16 returned the start's x after proving a better optimum (found by
    # the brute-force property test), so we do not pass one.
    status, x, _, bound, gap = _solve(lp, n, time_limit, warm)
    if status == "infeasible":
        return _infeasible(
            instance, diagnose_infeasibility(instance), started, considered, len(reduced)
        )
    if x is None:
        if warm_ids is None:
            return _infeasible(
                instance,
                ("no feasible selection found within the time limit",),
                started,
                considered,
                len(reduced),
            )
        chosen_c = [by_id[i] for i in warm_ids]
        value = objective(chosen_c, instance)
        return SelectionResult(
            selected=tuple(warm_ids),
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
    selected = [by_id[a.ids[i]] for i in np.flatnonzero(x > 0.5)]
    selected = canonical_swaps(selected, reduced, instance)
    value = objective(selected, instance)
    optimal = status == "optimal"
    return SelectionResult(
        selected=tuple(sorted(c.id for c in selected)),
        objective=round(value, 6),
        optimal=optimal,
        gap=0.0 if optimal else (None if gap is None else float(gap)),
        bound=None if bound is None else float(bound),
        status=status,
        method="milp",
        seconds=time.perf_counter() - started,
        candidates_considered=considered,
        candidates_after_reduction=len(reduced),
    )


def canonical_swaps(
    selected: list[Candidate], pool: Sequence[Candidate], instance: SelectionInstance
) -> list[Candidate]:
    """Among equally good sets one swap apart, prefer the alphabetically earlier ids."""
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


def _infeasible(
    instance: SelectionInstance,
    reasons: Sequence[str],
    started: float,
    considered: int,
    reduced: int,
) -> SelectionResult:
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


# ----------------------------------------------------------------- infeasibility


def _families(instance: SelectionInstance) -> dict[str, SelectionInstance]:
    """The instance with one family of constraints relaxed at a time."""
    big = float(sum(sum(c.resources) for c in instance.candidates) + 1)
    out = {}
    out["minimum size"] = SelectionInstance(
        instance.candidates,
        instance.value_weights,
        instance.repeat_credit,
        0,
        max(instance.k_max, len(instance.lock_in)),
        instance.institution_cap,
        instance.capacity,
        instance.lock_in,
        instance.lock_out,
    )
    for d, name in enumerate(RESOURCES):
        capacity = list(instance.capacity)
        capacity[d] = big
        out[f"{name} capacity"] = SelectionInstance(
            instance.candidates,
            instance.value_weights,
            instance.repeat_credit,
            instance.k_min,
            instance.k_max,
            instance.institution_cap,
            tuple(capacity),
            instance.lock_in,
            instance.lock_out,
        )
    out["per-institution cap"] = SelectionInstance(
        instance.candidates,
        instance.value_weights,
        instance.repeat_credit,
        instance.k_min,
        instance.k_max,
        len(instance.candidates) + 1,
        instance.capacity,
        instance.lock_in,
        instance.lock_out,
    )
    if instance.lock_in:
        out["lock-ins"] = instance.with_locks((), instance.lock_out)
    if instance.lock_out:
        out["lock-outs"] = instance.with_locks(instance.lock_in, ())
    return out


def _feasible(instance: SelectionInstance) -> bool:
    if len(instance.lock_in) > instance.k_max:
        return False
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    if len(pool) < instance.k_min:
        return False
    a = _arrays(pool, instance)
    lp, n = _build_compact(a, instance)
    lp.col_cost_ = np.zeros(lp.num_col_)
    status, *_ = _solve(lp, n, 5.0, None)
    return status in ("optimal", "time_limit")


def diagnose_infeasibility(instance: SelectionInstance) -> tuple[str, ...]:
    """Say which constraint makes the selection impossible, with the numbers."""
    reasons: list[str] = []
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    if len(pool) < instance.k_min:
        reasons.append(
            f"minimum size: only {len(pool)} eligible, not locked-out project(s); at least "
            f"{instance.k_min} are required"
        )
    if len(instance.lock_in) > instance.k_max:
        reasons.append(
            f"lock-ins: {len(instance.lock_in)} locked in, at most {instance.k_max} allowed"
        )
    by_id = instance.by_id()
    locked = [by_id[i] for i in instance.lock_in if i in by_id]
    for d, name in enumerate(RESOURCES):
        need = sum(c.resources[d] for c in locked)
        if need > instance.capacity[d] + 1e-9:
            reasons.append(
                f"{name} capacity: the locked-in projects need {need:g}, capacity is {instance.capacity[d]:g}"
            )
        else:
            smallest = sorted(c.resources[d] for c in pool)[: instance.k_min]
            if len(smallest) == instance.k_min and sum(smallest) > instance.capacity[d] + 1e-9:
                reasons.append(
                    f"{name} capacity: even the {instance.k_min} smallest requests need "
                    f"{sum(smallest):g}, capacity is {instance.capacity[d]:g}"
                )
    per_inst = Counter(c.institution for c in locked)
    for institution, count in sorted(per_inst.items()):
        if count > instance.institution_cap:
            reasons.append(
                f"per-institution cap: {count} locked-in projects from {institution}, cap is "
                f"{instance.institution_cap}"
            )
    institutions = len({c.institution for c in pool})
    if institutions * instance.institution_cap < instance.k_min:
        reasons.append(
            f"per-institution cap: {institutions} institution(s) × cap {instance.institution_cap} "
            f"cannot reach {instance.k_min} projects"
        )
    if reasons:
        return tuple(reasons)
    relaxable = [name for name, relaxed in _families(instance).items() if _feasible(relaxed)]
    if relaxable:
        return tuple(
            f"{name}: relaxing this constraint alone would make a selection possible"
            for name in relaxable
        )
    return (
        "no single constraint is to blame; several bind together (size, capacity, caps, locks)",
    )


# ------------------------------------------------------------------- brute force


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


def naive_model(instance: SelectionInstance) -> tuple[highspy.HighsLp, int]:
    """The textbook formulation, for the benchmark baseline only.

    Binary indicators ``z_vr`` ("at least r+1 selected projects cover v") linked
    by ``(r+1)·z_vr ≤ Σ x_i``, rows added one by one, every candidate kept.
    Same optimum as the compact model, weaker relaxation.
    """
    a = _arrays(list(instance.candidates), instance)
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
    """Solve :func:`naive_model` with HiGHS's default tuning; return (status, objective, gap)."""
    lp, n = naive_model(instance)
    saved = dict(SOLVER_OPTIONS)
    SOLVER_OPTIONS.clear()
    try:
        status, _, value, _, gap = _solve(lp, n, time_limit, None)
    finally:
        SOLVER_OPTIONS.update(saved)
    return status, value, gap
