"""What a *set* of projects is worth: quality plus heterogeneity coverage.

A selection earns each project's quality points, plus for every attribute
value (``data_types=imaging``, ``compute_need=heavy`` …) the attribute's
weight times a diminishing credit for the 1st, 2nd, 3rd … selected project
that covers it.  The value of a set is therefore a sum of concave functions of
coverage counts, which is what lets the optimizer model it exactly with
continuous variables and lets the explanations compute Shapley shares in
closed form.

This module turns nominations into :class:`Candidate` s and evaluates sets; it
does not search (``optimizer``) or explain (``explain``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from policies.nomination import Nomination
from policies.selection_policy import SelectionPolicy
from policies.units import parse_size

RESOURCES = ("vcpus", "ram_gb", "storage_tb", "gpus")


@dataclass(frozen=True)
class Candidate:
    """A selectable project reduced to what selection needs."""

    id: str
    institution: str
    quality: float
    resources: tuple[float, float, float, float]  # in RESOURCES order
    values: frozenset[str]  # "attribute=value"


@dataclass(frozen=True)
class SelectionInstance:
    """Everything the optimizer needs; candidates are kept sorted by id."""

    candidates: tuple[Candidate, ...]
    value_weights: Mapping[str, float]
    repeat_credit: tuple[float, ...]
    k_min: int
    k_max: int
    institution_cap: int
    capacity: tuple[float, float, float, float]
    lock_in: frozenset[str] = field(default_factory=frozenset)
    lock_out: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.candidates, key=lambda c: c.id))
        object.__setattr__(self, "candidates", ordered)

    def by_id(self) -> dict[str, Candidate]:
        return {c.id: c for c in self.candidates}

    def with_locks(
        self, lock_in: Iterable[str] = (), lock_out: Iterable[str] = ()
    ) -> SelectionInstance:
        return SelectionInstance(
            candidates=self.candidates,
            value_weights=self.value_weights,
            repeat_credit=self.repeat_credit,
            k_min=self.k_min,
            k_max=self.k_max,
            institution_cap=self.institution_cap,
            capacity=self.capacity,
            lock_in=frozenset(lock_in),
            lock_out=frozenset(lock_out),
        )


def attribute_values(nomination: Nomination, policy: SelectionPolicy) -> dict[str, list[str]]:
    """The heterogeneity values a nomination covers, per attribute (capped lists)."""
    cap = policy.selection.max_values_per_attribute
    attributes = policy.heterogeneity.attributes
    out: dict[str, list[str]] = {}
    if "data_types" in attributes:
        out["data_types"] = list(nomination.data.types[:cap])
    if "data_sources" in attributes:
        out["data_sources"] = list(nomination.data.sources[:cap])
    if "task_types" in attributes:
        out["task_types"] = list(nomination.task_types[:cap])
    if "institution_type" in attributes:
        out["institution_type"] = [nomination.institution_type]
    if "data_volume" in attributes:
        buckets = attributes["data_volume"].buckets or []
        out["data_volume"] = [_bucket(nomination.data.volume_bytes, buckets, sizes=True)]
    if "compute_need" in attributes:
        buckets = attributes["compute_need"].buckets or []
        out["compute_need"] = [_bucket(nomination.resources.vcpus, buckets, sizes=False)]
    if "readiness" in attributes:
        out["readiness"] = [start_month(nomination.ready_date, policy)]
    return out


def start_month(ready: date, policy: SelectionPolicy) -> str:
    start = max(ready, policy.pilot_period.start)
    return f"{start.year:04d}-{start.month:02d}"


def _bucket(amount: float, buckets: Sequence, *, sizes: bool) -> str:
    for bucket in buckets:
        if bucket.below is None:
            return bucket.name
        bound = parse_size(bucket.below) if sizes else float(bucket.below)
        if amount < bound:
            return bucket.name
    return buckets[-1].name if buckets else "all"


def make_candidate(nomination: Nomination, quality: float, policy: SelectionPolicy) -> Candidate:
    values = frozenset(
        f"{attribute}={value}"
        for attribute, items in attribute_values(nomination, policy).items()
        for value in items
    )
    r = nomination.resources
    return Candidate(
        id=nomination.id,
        institution=nomination.institution,
        quality=float(quality),
        resources=(float(r.vcpus), float(r.ram_gb), float(r.storage_tb), float(r.gpus)),
        values=values,
    )


def value_weights_for(candidates: Iterable[Candidate], policy: SelectionPolicy) -> dict[str, float]:
    attributes = policy.heterogeneity.attributes
    weights: dict[str, float] = {}
    for candidate in candidates:
        for value in candidate.values:
            attribute = value.split("=", 1)[0]
            weights[value] = attributes[attribute].weight
    return weights


def make_instance(
    candidates: Sequence[Candidate],
    policy: SelectionPolicy,
    *,
    k_min: int | None = None,
    k_max: int | None = None,
    lock_in: Iterable[str] = (),
    lock_out: Iterable[str] = (),
) -> SelectionInstance:
    c = policy.capacity
    return SelectionInstance(
        candidates=tuple(candidates),
        value_weights=value_weights_for(candidates, policy),
        repeat_credit=tuple(policy.heterogeneity.repeat_credit),
        k_min=policy.selection.k_min if k_min is None else k_min,
        k_max=policy.selection.k_max if k_max is None else k_max,
        institution_cap=policy.selection.per_institution_cap,
        capacity=(float(c.vcpus), float(c.ram_gb), float(c.storage_tb), float(c.gpus)),
        lock_in=frozenset(lock_in),
        lock_out=frozenset(lock_out),
    )


def credit(count: int, repeat_credit: Sequence[float]) -> float:
    """Total credit of one value covered by ``count`` selected projects."""
    return float(sum(repeat_credit[: max(count, 0)]))


def coverage_counts(selected: Iterable[Candidate]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for candidate in selected:
        counts.update(candidate.values)
    return counts


def coverage_points(selected: Sequence[Candidate], instance: SelectionInstance) -> float:
    counts = coverage_counts(selected)
    return sum(
        instance.value_weights.get(v, 0.0) * credit(n, instance.repeat_credit)
        for v, n in counts.items()
    )


def objective(selected: Sequence[Candidate], instance: SelectionInstance) -> float:
    return sum(c.quality for c in selected) + coverage_points(selected, instance)


def violations(selected: Sequence[Candidate], instance: SelectionInstance) -> list[str]:
    """Every constraint a set breaks (empty when it is feasible)."""
    problems = []
    ids = {c.id for c in selected}
    if len(ids) != len(selected):
        problems.append("a project is selected twice")
    if not instance.k_min <= len(selected) <= instance.k_max:
        problems.append(f"size {len(selected)} outside {instance.k_min}..{instance.k_max}")
    for d, name in enumerate(RESOURCES):
        used = sum(c.resources[d] for c in selected)
        if used > instance.capacity[d] + 1e-9:
            problems.append(f"{name} {used:g} over capacity {instance.capacity[d]:g}")
    per_institution = Counter(c.institution for c in selected)
    for institution, n in sorted(per_institution.items()):
        if n > instance.institution_cap:
            problems.append(f"{n} projects from {institution} (cap {instance.institution_cap})")
    missing = instance.lock_in - ids
    if missing:
        problems.append(f"locked-in project(s) missing: {', '.join(sorted(missing))}")
    banned = instance.lock_out & ids
    if banned:
        problems.append(f"locked-out project(s) selected: {', '.join(sorted(banned))}")
    return problems
