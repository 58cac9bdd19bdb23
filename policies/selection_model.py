"""The selection as a mixed-integer program: the column arrays and the compact model.

Why it exists: the optimizer, the infeasibility diagnosis and the test and
benchmark oracles all need the candidates as arrays and (the first two) the
same compact model, so it is built in one place.  The model (see
``portfolio`` for the objective)::

    max  Σ q_i x_i + Σ_v Σ_r w_v c_r y_vr
    s.t. Σ_r y_vr ≤ Σ_{i covers v} x_i        for every value v
         k_min ≤ Σ x_i ≤ k_max
         Σ a_id x_i ≤ C_d                     for every resource d
         Σ_{i ∈ I} x_i ≤ cap                  for every institution I
         x binary, 0 ≤ y ≤ 1, locks fix x

Because the credits c_r never increase, the y need not be integer: the LP
fills them in order, which keeps the model compact (one row per value instead
of indicator variables per value and rank).  Rows that cannot bind (a
resource whose total request fits, an institution with no more candidates
than its cap) are left out.

Deliberately not here: running the solver (``solver``), choosing what to
solve (``optimizer``), the naive textbook model (``testing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from policies.portfolio import Candidate, SelectionInstance

# Objective values closer than this are equal (ties, improvements, swaps).
TOLERANCE = 1e-6


@dataclass
class CandidateArrays:
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


def candidate_arrays(
    candidates: Sequence[Candidate], instance: SelectionInstance
) -> CandidateArrays:
    """The candidates (in the given order) as arrays, values and institutions sorted."""
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
    return CandidateArrays(
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


def build_compact(a: CandidateArrays, instance: SelectionInstance) -> tuple[highspy.HighsLp, int]:
    """Column-wise model: x_0..x_{n-1} then y for each (value, rank); returns (model, n)."""
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
