"""Why no selection is possible: name the constraint, with the numbers.

Why it exists: "infeasible" alone does not help the steering group; the
operator needs to know whether too few projects are eligible, capacity is
too small, the per-institution cap or a lock-in is to blame.  Simple counting
arguments come first (they give numbers); when none applies, each family of
constraints is relaxed in turn and the model re-solved for feasibility only.

Deliberately not here: proposing a fix or changing the request.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from policies.portfolio import RESOURCES, SelectionInstance
from policies.selection_model import build_compact, candidate_arrays
from policies.solver import solve


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
    """Whether any selection satisfies ``instance`` (a zero objective: feasibility only)."""
    if len(instance.lock_in) > instance.k_max:
        return False
    pool = [c for c in instance.candidates if c.id not in instance.lock_out]
    if len(pool) < instance.k_min:
        return False
    a = candidate_arrays(pool, instance)
    lp, n = build_compact(a, instance)
    lp.col_cost_ = np.zeros(lp.num_col_)
    return solve(lp, n, 5.0).status in ("optimal", "time_limit")


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
