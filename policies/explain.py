"""Why each project is in the selection, and why another is not.

For every selected project: its quality points, the attribute values only it
covers, what the selection loses without it (its marginal value, and the drop
when the optimizer must re-plan without it), its Shapley share of the score,
and its best swap.  The coverage game is a sum over values of symmetric
concave games, so the Shapley value of a project on value ``v`` is simply
``w_v · G(n_v) / n_v`` (``n_v`` selected projects cover ``v``) — exact, no
sampling.

Pure functions over the instance and the result; nothing is looked up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from policies.optimizer import SelectionResult, optimize
from policies.portfolio import (
    Candidate,
    SelectionInstance,
    coverage_counts,
    credit,
    objective,
    violations,
)


@dataclass(frozen=True)
class Explanation:
    id: str
    quality_points: float
    coverage_points: float  # Shapley share of the coverage
    share_of_score: float  # (quality + coverage share) / objective
    unique_values: tuple[str, ...]
    marginal_loss: float  # objective lost by dropping it, nothing else changed
    replan_loss: float | None  # objective lost when re-optimised without it
    replan_selection: tuple[str, ...] | None
    best_swap: str | None
    best_swap_delta: float | None  # objective change of that swap (<= 0 when optimal)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class WhyNot:
    id: str
    eligible: bool
    reasons: tuple[str, ...]
    forced_objective: float | None
    cost: float | None  # objective lost by forcing it in
    forced_selection: tuple[str, ...] | None
    displaced: tuple[str, ...]
    infeasibility: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def shapley_coverage(
    selected: Sequence[Candidate], instance: SelectionInstance
) -> dict[str, float]:
    counts = coverage_counts(selected)
    share = {}
    for c in selected:
        share[c.id] = sum(
            instance.value_weights.get(v, 0.0)
            * credit(counts[v], instance.repeat_credit)
            / counts[v]
            for v in c.values
        )
    return share


def explain_selection(
    instance: SelectionInstance,
    result: SelectionResult,
    *,
    replan: bool = True,
    time_limit: float | None = 10.0,
) -> dict[str, Explanation]:
    by_id = instance.by_id()
    selected = [by_id[i] for i in result.selected]
    total = objective(selected, instance)
    counts = coverage_counts(selected)
    shapley = shapley_coverage(selected, instance)
    outside = [
        c
        for c in instance.candidates
        if c.id not in set(result.selected) and c.id not in instance.lock_out
    ]
    out = {}
    for c in selected:
        rest = [s for s in selected if s is not c]
        unique = tuple(sorted(v for v in c.values if counts[v] == 1))
        marginal = total - objective(rest, instance)
        replan_loss = replan_sel = None
        if replan and c.id not in instance.lock_in:
            again = optimize(
                instance.with_locks(instance.lock_in, instance.lock_out | {c.id}), time_limit
            )
            if again.feasible:
                replan_loss = round(total - again.objective, 6)
                replan_sel = again.selected
        best, best_delta = None, None
        if c.id not in instance.lock_in:
            for other in outside:
                move = rest + [other]
                if violations(move, instance):
                    continue
                delta = objective(move, instance) - total
                if best_delta is None or delta > best_delta + 1e-9:
                    best, best_delta = other.id, delta
        out[c.id] = Explanation(
            id=c.id,
            quality_points=round(c.quality, 4),
            coverage_points=round(shapley[c.id], 4),
            share_of_score=round((c.quality + shapley[c.id]) / total, 4) if total else 0.0,
            unique_values=unique,
            marginal_loss=round(marginal, 6),
            replan_loss=replan_loss,
            replan_selection=replan_sel,
            best_swap=best,
            best_swap_delta=None if best_delta is None else round(best_delta, 6),
        )
    return out


def why_not(
    instance: SelectionInstance,
    result: SelectionResult,
    candidate_id: str,
    *,
    time_limit: float | None = 10.0,
) -> WhyNot:
    """Explain an unselected, eligible candidate by forcing it in and re-solving."""
    if candidate_id in result.selected:
        return WhyNot(
            candidate_id, True, ("it is selected",), result.objective, 0.0, result.selected, ()
        )
    reasons = []
    lock_out = set(instance.lock_out)
    if candidate_id in lock_out:
        reasons.append(
            "it is locked out by the operator; the cost below is of forcing it in anyway"
        )
        lock_out.discard(candidate_id)
    forced = optimize(instance.with_locks(instance.lock_in | {candidate_id}, lock_out), time_limit)
    if not forced.feasible:
        return WhyNot(
            candidate_id,
            True,
            tuple(reasons + ["no feasible selection contains it"]),
            None,
            None,
            None,
            (),
            forced.infeasibility,
        )
    cost = round(result.objective - forced.objective, 6)
    displaced = tuple(sorted(set(result.selected) - set(forced.selected)))
    reasons.append(
        f"forcing it in lowers the objective by {cost:g} "
        f"({result.objective:g} -> {forced.objective:g})"
        + (f" and displaces {', '.join(displaced)}" if displaced else "")
    )
    return WhyNot(
        candidate_id, True, tuple(reasons), forced.objective, cost, forced.selected, displaced
    )
