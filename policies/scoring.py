"""Quality points of a nomination, with the per-criterion breakdown.

The score is transparent by construction: each criterion contributes
``weight × fraction`` and the breakdown lists every term, so an operator (or
the steering group) can recompute it by hand.  Heterogeneity is *not* here: it
is a property of a set of projects and lives in ``portfolio``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from policies.nomination import Nomination
from policies.selection_policy import SelectionPolicy
from policies.units import parse_size


@dataclass(frozen=True)
class Criterion:
    name: str
    weight: float
    fraction: float  # 0..1
    detail: str

    @property
    def points(self) -> float:
        return round(self.weight * self.fraction, 2)


@dataclass(frozen=True)
class Score:
    total: float
    criteria: tuple[Criterion, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "criteria": {
                c.name: {
                    "points": c.points,
                    "weight": c.weight,
                    "fraction": round(c.fraction, 4),
                    "detail": c.detail,
                }
                for c in self.criteria
            },
        }


def _readiness_fraction(nomination: Nomination, policy: SelectionPolicy) -> tuple[float, str]:
    start, end = policy.pilot_period.start, policy.pilot_period.end
    ready = nomination.ready_date
    if ready <= start:
        return 1.0, f"ready {ready}, by pilot start {start}"
    if ready >= end:
        return 0.0, f"ready {ready}, after pilot end {end}"
    fraction = 1 - (ready - start).days / (end - start).days
    return fraction, f"ready {ready}, {(ready - start).days} days after pilot start"


def _volume_fraction(nomination: Nomination, policy: SelectionPolicy) -> tuple[float, str]:
    floor = parse_size(policy.scoring.data_volume_floor)
    ceiling = parse_size(policy.scoring.data_volume_ceiling)
    volume = max(nomination.data.volume_bytes, 1)
    if volume <= floor:
        fraction = 0.0
    elif volume >= ceiling:
        fraction = 1.0
    else:
        fraction = math.log(volume / floor) / math.log(ceiling / floor)
    return (
        fraction,
        f"{nomination.data.volume} on a log scale from {policy.scoring.data_volume_floor} to {policy.scoring.data_volume_ceiling}",
    )


def score(nomination: Nomination, policy: SelectionPolicy) -> Score:
    weights = policy.scoring.weights
    readiness, readiness_detail = _readiness_fraction(nomination, policy)
    volume, volume_detail = _volume_fraction(nomination, policy)
    level = policy.maturity_levels.get(nomination.maturity, "")
    criteria = (
        Criterion(
            "maturity",
            weights.maturity,
            (nomination.maturity - 1) / 4,
            f"level {nomination.maturity}: {level}",
        ),
        Criterion("readiness", weights.readiness, readiness, readiness_detail),
        Criterion(
            "commitment",
            weights.commitment,
            1.0 if nomination.commits_to_evaluation else 0.0,
            "commits resources to evaluation"
            if nomination.commits_to_evaluation
            else "no commitment to evaluation",
        ),
        Criterion("data_volume", weights.data_volume, volume, volume_detail),
    )
    return Score(total=round(sum(c.points for c in criteria), 2), criteria=criteria)
