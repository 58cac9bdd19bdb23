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
    # Vectorised (at N = 10,000 a per-candidate loop cost ~0.1 s per call):
    # one flat (candidate, value) list, sorted both ways.
    counts = np.array([len(c.values) for c in candidates], dtype=np.int64)
    flat = np.fromiter(
        (index[v] for c in candidates for v in c.values), dtype=np.int64, count=int(counts.sum())
    )
    owner = np.repeat(np.arange(len(candidates), dtype=np.int64), counts)
    by_candidate = flat[np.lexsort((flat, owner))]
    # Slices, not np.split: its per-piece overhead was ~0.05 s per call at N = 10,000.
    ends = np.cumsum(counts).tolist()
    members = [by_candidate[s:e] for s, e in zip([0, *ends][:-1], ends, strict=True)]
    by_value = owner[np.lexsort((owner, flat))].tolist()
    value_ends = np.cumsum(np.bincount(flat, minlength=len(values))).tolist()
    covering = [by_value[s:e] for s, e in zip([0, *value_ends][:-1], value_ends, strict=True)]
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


def subset_arrays(a: CandidateArrays, index: np.ndarray) -> CandidateArrays:
    """The candidates ``index`` of ``a`` (in that order), with ``a``'s values and institutions.

    Keeping the full value and institution lists keeps the model's rows those
    of ``a``'s model (``row_layout``), so a subset model's duals price every
    candidate of ``a`` (``bound_fixing.lp_bounds``).  ``covering`` is left
    empty: no model needs it.
    """
    return CandidateArrays(
        ids=[a.ids[i] for i in index],
        quality=a.quality[index],
        resources=a.resources[index],
        institution=a.institution[index],
        institutions=a.institutions,
        values=a.values,
        weights=a.weights,
        members=[a.members[i] for i in index],
        covering=[],
    )


def row_layout(
    a: CandidateArrays, instance: SelectionInstance
) -> tuple[dict[int, int], dict[int, int]]:
    """The rows of :func:`build_compact` after the value rows and the size row.

    (resource d -> row, institution code -> row): a resource row only where
    the candidates' total request exceeds the capacity, an institution row
    only where it has more candidates than the cap (other rows cannot bind).
    """
    row = len(a.values) + 1
    resource_rows = {}
    for d in range(4):
        if a.resources[:, d].sum() > instance.capacity[d] + 1e-9:
            resource_rows[d] = row
            row += 1
    per_inst = np.bincount(a.institution, minlength=len(a.institutions))
    inst_rows = {}
    for code, count in enumerate(per_inst):
        if count > instance.institution_cap:
            inst_rows[code] = row
            row += 1
    return resource_rows, inst_rows


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
    resource_rows, inst_rows = row_layout(a, instance)
    for d in resource_rows:
        rows_lower.append(-highspy.kHighsInf)
        rows_upper.append(float(instance.capacity[d]))
    for _ in inst_rows:
        rows_lower.append(-highspy.kHighsInf)
        rows_upper.append(float(instance.institution_cap))

    # The matrix column by column, built with numpy (the same entries in the
    # same order as a per-candidate loop; at N = 10,000 the loop cost ~0.1 s):
    # each x column holds its values' rows (ascending), the size row, its
    # non-zero requests on the resource rows (by resource) and its
    # institution's row; each y column holds its value's row.
    cols = [np.repeat(np.arange(n), [len(idx) for idx in a.members]), np.arange(n)]
    rows = [
        row_of_value[np.concatenate(a.members)] if n else np.zeros(0, dtype=np.int64),
        np.full(n, size_row),
    ]
    values = [-np.ones(len(cols[0])), np.ones(n)]
    keys = [np.zeros(len(cols[0])), np.ones(n)]
    for d, row in resource_rows.items():
        has = np.flatnonzero(a.resources[:, d])
        cols.append(has)
        rows.append(np.full(has.size, row))
        values.append(a.resources[has, d].astype(float))
        keys.append(np.full(has.size, 2.0 + d))
    inst_row_of = np.full(len(a.institutions), -1, dtype=np.int64)
    for code, row in inst_rows.items():
        inst_row_of[code] = row
    member_rows = inst_row_of[a.institution] if n else np.zeros(0, dtype=np.int64)
    capped = np.flatnonzero(member_rows >= 0)
    cols.append(capped)
    rows.append(member_rows[capped])
    values.append(np.ones(capped.size))
    keys.append(np.full(capped.size, 6.0))
    col = np.concatenate(cols)
    order = np.lexsort((np.concatenate(keys), col))  # by column, then kind; stable
    y_rows = np.repeat(np.arange(m), len(credits))
    index = np.concatenate([np.concatenate(rows)[order], y_rows])
    value = np.concatenate([np.concatenate(values)[order], np.ones(n_y)])
    per_column = np.concatenate([np.bincount(col, minlength=n), np.ones(n_y, dtype=np.int64)])
    starts = np.concatenate([[0], np.cumsum(per_column)])
    lp.num_row_ = len(rows_lower)
    lp.row_lower_ = np.array(rows_lower)
    lp.row_upper_ = np.array(rows_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts.astype(np.int32)
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = value.astype(float)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [highspy.HighsVarType.kContinuous] * n_y
    return lp, n
