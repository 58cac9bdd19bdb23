"""Lifecycle rules (``lifecycle.yaml``) and the pure decisions made from them:
which expiry notice is due on a day, whether a tenant is to be suspended or
finalised (final invoice, teardown), and whether the data-access switch is due
for a pilot (its own date or the policy's, and only with national genome data).

Dates are calendar days in UTC.  A pilot's *last day* is its planned end date;
access ends at 00:00 UTC the day after (when its application credential
expires), so suspension is due from that day on.  Nothing here reads a clock,
a database or a cloud: callers pass ``today``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies.policyfile import parse_model, read_text

NOTICE_PLACEHOLDERS = frozenset(
    {
        "pilot",
        "name",
        "pi_name",
        "project",
        "last_day",
        "days_left",
        "suspend_on",
        "teardown_on",
        "grace_days",
        "support_contact",
    }
)
_ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$")

Stage = Literal["running", "suspend", "finalise"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _template(value: str) -> str:
    template = Template(value)
    if not template.is_valid():
        raise ValueError("not a valid template: write $name or ${name}, and $$ for a dollar sign")
    unknown = sorted(set(template.get_identifiers()) - NOTICE_PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join('$' + u for u in unknown)}; "
            f"allowed: {', '.join('$' + p for p in sorted(NOTICE_PLACEHOLDERS))}"
        )
    return value


class NoticeTemplate(_Frozen):
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    body: Annotated[str, Field(min_length=1, max_length=10000)]

    @field_validator("subject", "body")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return _template(value)

    def render(self, values: dict[str, object]) -> tuple[str, str]:
        """Subject and body with every placeholder filled (all must be given)."""
        text = {k: str(v) for k, v in values.items()}
        return Template(self.subject).substitute(text), Template(self.body).substitute(text)


_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


class DataAccess(_Frozen):
    date: date  # the default; a pilot's own date (pilot.data_access_date) wins
    role: str
    # The nomination data sources (selection.yaml's data_sources) that mean the
    # national genome data: only a pilot naming one of them is ever granted.
    sources: Annotated[list[str], Field(min_length=1)] = ["national_genome_center"]

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _SOURCE.match(v)]
        if bad:
            raise ValueError(
                f"not a data-source key: {', '.join(map(repr, bad))}; write the keys of "
                "selection.yaml's data_sources (lower case, digits, _)"
            )
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if not _ROLE.match(value):
            raise ValueError(
                "not a Keystone role name: letters, digits and _ . : - (at most 255, "
                "starting with a letter or digit)"
            )
        return value


class Reconcile(_Frozen):
    repair: bool = False


class LifecyclePolicy(_Frozen):
    version: Literal[1]
    notice_days: list[Annotated[int, Field(ge=1, le=366)]]
    grace_days: Annotated[int, Field(ge=0, le=3660)]
    notice: NoticeTemplate
    data_access: DataAccess
    reconcile: Reconcile = Reconcile()
    digest: str = ""

    @field_validator("notice_days")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each notice day may appear once")
        return sorted(value, reverse=True)


def default_lifecycle_policy_path() -> Path:
    return Path(str(resources.files("policies").joinpath("lifecycle.yaml")))


def parse_lifecycle_policy(text: str, source: str = "lifecycle.yaml") -> LifecyclePolicy:
    """Validate policy ``text``; raise :class:`InputProblems` listing every problem."""
    return parse_model(text, source, LifecyclePolicy)


def load_lifecycle_policy(path: Path | str | None = None) -> LifecyclePolicy:
    file = Path(path) if path is not None else default_lifecycle_policy_path()
    return parse_lifecycle_policy(read_text(file), source=str(file))


# ------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class Milestones:
    """The days that matter for one pilot whose last day of access is ``last_day``."""

    last_day: date
    notices: dict[int, date]  # days before the last day -> the day that notice is due
    suspend_on: date  # the first day without access
    teardown_on: date  # final invoice and teardown

    def as_dict(self) -> dict[str, object]:
        return {
            "last_day": self.last_day.isoformat(),
            "notices": {str(d): day.isoformat() for d, day in self.notices.items()},
            "suspend_on": self.suspend_on.isoformat(),
            "teardown_on": self.teardown_on.isoformat(),
        }


def milestones(policy: LifecyclePolicy, last_day: date) -> Milestones:
    suspend_on = last_day + timedelta(days=1)
    return Milestones(
        last_day=last_day,
        notices={d: last_day - timedelta(days=d) for d in policy.notice_days},
        suspend_on=suspend_on,
        teardown_on=suspend_on + timedelta(days=policy.grace_days),
    )


def notice_due(policy: LifecyclePolicy, last_day: date, today: date) -> int | None:
    """The notice (days before the last day) to send on ``today``, or None.

    The most urgent notice whose day has come, as long as access has not
    ended: a run that missed the 14-day notice's day but is within 7 days
    sends the 7-day notice, not both.  Callers record each notice once.
    """
    days_left = (last_day - today).days
    if days_left < 0:
        return None
    reached = [d for d in policy.notice_days if d >= days_left]
    return min(reached) if reached else None


def stage(policy: LifecyclePolicy, last_day: date, today: date) -> Stage:
    """``running`` through the last day, ``suspend`` from the day after, ``finalise``
    once the grace period has passed."""
    marks = milestones(policy, last_day)
    if today >= marks.teardown_on:
        return "finalise"
    if today >= marks.suspend_on:
        return "suspend"
    return "running"


def has_national_data(policy: LifecyclePolicy, sources: list[str]) -> bool:
    """Whether a nomination's data sources include one the policy counts as national genome data."""
    return bool(set(sources) & set(policy.data_access.sources))


DataAccessStatus = Literal["due", "not_due", "no_national_data"]


def data_access_due(policy: LifecyclePolicy, today: date, own: date | None = None) -> bool:
    """Whether ``today`` is on or after the pilot's own date (or the policy's)."""
    return today >= (own or policy.data_access.date)


def data_access_status(
    policy: LifecyclePolicy, sources: list[str], own: date | None, today: date
) -> DataAccessStatus:
    """Data minimisation first: a pilot whose nomination names none of the policy's
    national-genome sources is never granted, whatever its date."""
    if not has_national_data(policy, sources):
        return "no_national_data"
    return "due" if data_access_due(policy, today, own) else "not_due"


def notice_key(days: int, pilot_id: str, last_day: date) -> str:
    """Outbox key of a notice: one per notice day, pilot and end date (a new end
    date after an extension gets its notices again)."""
    return f"expiry-{days}d:{pilot_id}:{last_day.isoformat()}"
