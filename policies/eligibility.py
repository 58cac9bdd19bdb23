"""Is a nomination allowed to become a pilot at all?  (The legal basis.)

Returns every reason a nomination fails, not just the first, so the applicant
list and ``select why-not`` can show the whole picture.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.nomination import Nomination
from policies.selection_policy import SelectionPolicy


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]


def assess(nomination: Nomination, policy: SelectionPolicy) -> Eligibility:
    rules = policy.eligibility
    statement = nomination.eligibility
    reasons = []
    if rules.require_personalised_medicine and not statement.personalised_medicine:
        reasons.append("not within personalised medicine")
    if rules.require_societal_interest and not statement.societal_interest:
        reasons.append("no societal interest stated")
    if statement.data_processing_agreement not in rules.data_processing_agreement_allowed:
        allowed = " or ".join(rules.data_processing_agreement_allowed)
        reasons.append(
            f"data processing agreement is {statement.data_processing_agreement!r}; "
            f"must be {allowed}"
        )
    if rules.require_ready_before_pilot_end and nomination.ready_date >= policy.pilot_period.end:
        reasons.append(
            f"ready only on {nomination.ready_date}, not before the pilot ends "
            f"({policy.pilot_period.end})"
        )
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))
