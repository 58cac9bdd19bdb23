"""Greedy + local search: the selection's fallback when the solver finds nothing in time.

Why it exists: HiGHS under a time limit can end without any feasible
solution on a very large or awkward instance; operators then still get a
good set (reported as ``greedy_fallback``, not certified) instead of nothing.
The benchmark also reports its gap to the certified optimum.  It is greedy by
marginal gain, keeping room for ``k_min``, then best-improvement 1-swaps —
vectorised over candidates, so it stays fast at tens of thousands of
nominations.

Deliberately not here: any claim of optimality, and any use as a MIP start
(see ``solver``).  Greedy alone can miss a feasible set when capacity binds;
the MILP does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from policies.portfolio import Candidate, SelectionInstance, violations
from policies.selection_model import TOLERANCE, CandidateArrays, candidate_arrays


class _State:
    """A set under construction, with the sums needed to score moves in O(nnz)."""

    def __init__(self, a: CandidateArrays, instance: SelectionInstance):
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
    a = candidate_arrays(pool, instance)
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
