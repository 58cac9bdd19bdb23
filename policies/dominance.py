"""Dominance reduction: drop candidates that some optimal portfolio provably never needs.

Why it exists: at hundreds or thousands of nominations many candidates are
near-equivalents, and branch and bound must rule out every set made of them;
removing the provably unneeded ones before the model is built is what makes
N = 1,000 solvable in seconds (``bench/selection.py`` prints how many stay).
The argument is in :func:`reduce_dominated`'s docstring; the property test
checks it against brute force.

Deliberately not here: any heuristic pruning.  A candidate is removed only
when an optimal portfolio without it is guaranteed, so the solver's
certificate still holds for the full instance.
"""

from __future__ import annotations

import numpy as np

from policies.portfolio import Candidate, SelectionInstance
from policies.selection_model import candidate_arrays


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
    a = candidate_arrays(pool, instance)
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
