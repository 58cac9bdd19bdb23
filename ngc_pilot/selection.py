"""The selection service: from stored applications to an explained, recorded decision.

Reads applications, applies eligibility and scoring (``policies``), builds the
optimizer's instance, solves, explains, and on ``commit`` records the decision,
the pilots and the audit entries in one transaction.  Every interface calls
these functions through :class:`ngc_pilot.facade.Services`.

Why it is one module of (just) over 400 lines: the proposal and its commit
share one instance — the options checked against the assessed applications,
the instance built from them, and the decision that must record exactly what
was solved (``based_on``, the locks, the policy digest).  The pure parts
already live in ``policies`` (eligibility, scoring, the optimizer and its
explanations); what is left is that shared instance and its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.errors import InputError, NotFoundError
from ngc_pilot.models import Application, Pilot, SelectionDecision
from policies.eligibility import Eligibility, assess
from policies.explain import Explanation, WhyNot, explain_selection, why_not
from policies.nomination import Nomination
from policies.optimizer import SelectionResult, optimize
from policies.planning import planned_dates
from policies.portfolio import SelectionInstance, attribute_values, make_candidate, make_instance
from policies.problems import Problem
from policies.scoring import Score, score
from policies.selection_policy import SelectionPolicy

# What a selection and a decision are given, in the domain's words.  Problems
# name these fields; each interface words them for its user (the CLI as its
# options, the TUI as its form's fields).
OPTIONS = "selection options"
DECISION = "decision"
LOCK_IN = "lock-in list"
LOCK_OUT = "lock-out list"
LOCK_BOTH = "lock-in and lock-out lists"
MINIMUM = "minimum number of pilots"
MAXIMUM = "maximum number of pilots"
DECIDED_BY = "decision maker"
REASON = "reason"


@dataclass(frozen=True)
class Assessed:
    application: Application
    nomination: Nomination
    eligibility: Eligibility
    score: Score

    @property
    def id(self) -> str:
        return self.application.id


@dataclass(frozen=True)
class SelectOptions:
    k_min: int | None = None
    k_max: int | None = None
    lock_in: tuple[str, ...] = ()
    lock_out: tuple[str, ...] = ()
    explain: bool = True


@dataclass(frozen=True)
class Proposal:
    options: SelectOptions
    instance: SelectionInstance
    result: SelectionResult
    explanations: dict[str, Explanation]
    assessed: dict[str, Assessed]
    policy: SelectionPolicy
    based_on: int = 0  # the latest decision's id when this was computed (0: none)

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        selected = []
        for pid in r.selected:
            a = self.assessed[pid]
            start, end = planned_dates(
                a.nomination.ready_date,
                a.nomination.access_months,
                self.policy.pilot_period.start,
                self.policy.pilot_period.end,
            )
            selected.append(
                {
                    "id": pid,
                    "name": a.nomination.name,
                    "institution": a.nomination.institution,
                    "score": a.score.total,
                    "planned_start": start.isoformat(),
                    "planned_end": end.isoformat(),
                    "resources": a.nomination.resources.model_dump(),
                }
            )
        used = {
            name: round(sum(self.instance.by_id()[pid].resources[d] for pid in r.selected), 3)
            for d, name in enumerate(("vcpus", "ram_gb", "storage_tb", "gpus"))
        }
        return {
            "selected": selected,
            "optimal": r.optimal,
            "status": r.status,
            "objective": r.objective,
            "gap": r.gap,
            "bound": r.bound,
            "method": r.method,
            "solve_seconds": round(r.seconds, 4),
            "candidates": r.candidates_considered,
            "candidates_after_reduction": r.candidates_after_reduction,
            "infeasibility": list(r.infeasibility),
            "notes": list(r.notes),
            "k_min": self.instance.k_min,
            "k_max": self.instance.k_max,
            "lock_in": sorted(self.instance.lock_in),
            "lock_out": sorted(self.instance.lock_out),
            "capacity": dict(
                zip(("vcpus", "ram_gb", "storage_tb", "gpus"), self.instance.capacity, strict=True)
            ),
            "capacity_used": used,
            "policy_digest": self.policy.digest,
            "explanations": {k: v.as_dict() for k, v in self.explanations.items()},
        }


def applications(session: Session) -> Sequence[Application]:
    return session.exec(select(Application).order_by(col(Application.id))).all()


def get_application(session: Session, app_id: str) -> Application:
    app = session.get(Application, app_id)
    if app is None:
        raise NotFoundError(
            [
                Problem(
                    "database",
                    "id",
                    app_id,
                    "no application with this id; see `ngc-pilot intake list`",
                )
            ]
        )
    return app


def assess_one(app: Application, policy: SelectionPolicy) -> Assessed:
    nomination = Nomination.model_validate(app.document)
    return Assessed(app, nomination, assess(nomination, policy), score(nomination, policy))


def assess_all(session: Session, policy: SelectionPolicy) -> list[Assessed]:
    return [assess_one(app, policy) for app in applications(session)]


def _check_options(
    options: SelectOptions, assessed: dict[str, Assessed], policy: SelectionPolicy
) -> None:
    problems = []
    for field, ids in ((LOCK_IN, options.lock_in), (LOCK_OUT, options.lock_out)):
        for pid in ids:
            if pid not in assessed:
                problems.append(Problem(OPTIONS, field, pid, "no application with this id"))
            elif field == LOCK_IN and not assessed[pid].eligibility.eligible:
                problems.append(
                    Problem(
                        OPTIONS,
                        field,
                        pid,
                        "ineligible, cannot be selected: "
                        + "; ".join(assessed[pid].eligibility.reasons),
                    )
                )
    for pid in sorted(set(options.lock_in) & set(options.lock_out)):
        problems.append(Problem(OPTIONS, LOCK_BOTH, pid, "locked both in and out; choose one"))
    k_min = policy.selection.k_min if options.k_min is None else options.k_min
    k_max = policy.selection.k_max if options.k_max is None else options.k_max
    if k_min < 1:
        problems.append(Problem(OPTIONS, MINIMUM, k_min, "must be at least 1"))
    if k_max < k_min:
        problems.append(
            Problem(OPTIONS, MAXIMUM, k_max, f"must be at least the {MINIMUM} ({k_min})")
        )
    if problems:
        raise InputError(problems)


def propose(
    session: Session, policy: SelectionPolicy, options: SelectOptions = SelectOptions()
) -> Proposal:
    assessed = {a.id: a for a in assess_all(session, policy)}
    _check_options(options, assessed, policy)
    candidates = [
        make_candidate(a.nomination, a.score.total, policy)
        for a in assessed.values()
        if a.eligibility.eligible
    ]
    instance = make_instance(
        candidates,
        policy,
        k_min=options.k_min,
        k_max=options.k_max,
        lock_in=options.lock_in,
        lock_out=options.lock_out,
    )
    result = optimize(instance, policy.selection.time_limit_seconds)
    explanations = (
        explain_selection(instance, result, time_limit=policy.selection.time_limit_seconds)
        if options.explain and result.feasible
        else {}
    )
    return Proposal(
        options, instance, result, explanations, assessed, policy, _latest_decision_id(session)
    )


def _latest_decision_id(session: Session) -> int:
    latest = session.exec(select(func.max(SelectionDecision.id))).one()
    return int(latest or 0)


def explain_why_not(
    session: Session, policy: SelectionPolicy, app_id: str, options: SelectOptions = SelectOptions()
) -> dict[str, Any]:
    app = get_application(session, app_id)
    one = assess_one(app, policy)
    if not one.eligibility.eligible:
        return {
            "id": app_id,
            "eligible": False,
            "selected": False,
            "reasons": list(one.eligibility.reasons),
        }
    proposal = propose(
        session,
        policy,
        SelectOptions(
            options.k_min, options.k_max, options.lock_in, options.lock_out, explain=False
        ),
    )
    if not proposal.result.feasible:
        return {
            "id": app_id,
            "eligible": True,
            "selected": False,
            "reasons": ["no selection is feasible at all"],
            "infeasibility": list(proposal.result.infeasibility),
        }
    answer: WhyNot = why_not(
        proposal.instance, proposal.result, app_id, time_limit=policy.selection.time_limit_seconds
    )
    out = answer.as_dict()
    out["selected"] = app_id in proposal.result.selected
    out["objective"] = proposal.result.objective
    return out


def commit(
    session: Session, proposal: Proposal, *, by: str, reason: str, actor: str
) -> SelectionDecision:
    """Record the proposal as the decision: pilots with planned dates, audited."""
    problems = []
    if not by.strip():
        problems.append(Problem(DECISION, DECIDED_BY, by, "name the person who decides"))
    if not reason.strip():
        problems.append(Problem(DECISION, REASON, reason, "give the reason for the decision"))
    if not proposal.result.feasible:
        problems.append(
            Problem(
                "selection",
                "selected",
                [],
                "no feasible selection to commit: " + "; ".join(proposal.result.infeasibility),
            )
        )
    latest = _latest_decision_id(session)
    if latest != proposal.based_on:
        problems.append(
            Problem(
                "selection",
                "decision",
                latest,
                f"decision {latest} was recorded after this proposal was computed "
                f"(against {proposal.based_on or 'no decision'}); propose again and commit that",
            )
        )
    if problems:
        raise InputError(problems)
    r = proposal.result
    decision = SelectionDecision(
        based_on=proposal.based_on,
        decided_by=by.strip(),
        reason=reason.strip(),
        policy_digest=proposal.policy.digest,
        k_min=proposal.instance.k_min,
        k_max=proposal.instance.k_max,
        lock_in=sorted(proposal.instance.lock_in),
        lock_out=sorted(proposal.instance.lock_out),
        objective=r.objective,
        optimal=r.optimal,
        gap=r.gap,
        selected=list(r.selected),
        explanations={k: v.as_dict() for k, v in proposal.explanations.items()},
    )
    session.add(decision)
    session.flush()
    period = proposal.policy.pilot_period
    now = utcnow()
    for pid in r.selected:
        nomination = proposal.assessed[pid].nomination
        start, end = planned_dates(
            nomination.ready_date, nomination.access_months, period.start, period.end
        )
        pilot = session.get(Pilot, pid)
        if pilot is None:
            pilot = Pilot(
                id=pid,
                application_id=pid,
                decision_id=decision.id,
                planned_start=start,
                planned_end=end,
            )
            action = "pilot.selected"
        else:
            pilot.decision_id, pilot.planned_start, pilot.planned_end = decision.id, start, end
            pilot.state = "selected" if pilot.state == "withdrawn" else pilot.state
            pilot.updated_at = now
            action = "pilot.reconfirmed"
        session.add(pilot)
        audit.record(
            session,
            actor=actor,
            action=action,
            subject=pid,
            reason=reason,
            details={
                "decision": decision.id,
                "planned_start": start.isoformat(),
                "planned_end": end.isoformat(),
            },
        )
    stale = session.exec(
        select(Pilot).where(col(Pilot.id).not_in(list(r.selected)), Pilot.state == "selected")
    ).all()
    for pilot in stale:
        pilot.state = "withdrawn"
        pilot.updated_at = now
        session.add(pilot)
        audit.record(
            session,
            actor=actor,
            action="pilot.withdrawn",
            subject=pilot.id,
            reason=reason,
            details={"decision": decision.id},
        )
    audit.record(
        session,
        actor=actor,
        action="selection.committed",
        subject=f"decision {decision.id}",
        reason=reason,
        details={
            "decided_by": decision.decided_by,
            "selected": list(r.selected),
            "objective": r.objective,
            "optimal": r.optimal,
            "gap": r.gap,
            "policy_digest": decision.policy_digest,
            "lock_in": decision.lock_in,
            "lock_out": decision.lock_out,
        },
    )
    session.flush()
    return decision


def pilots(session: Session) -> Sequence[Pilot]:
    return session.exec(select(Pilot).order_by(col(Pilot.id))).all()


def decisions(session: Session) -> Sequence[SelectionDecision]:
    return session.exec(select(SelectionDecision).order_by(col(SelectionDecision.id))).all()


def coverage_matrix(proposal: Proposal) -> dict[str, dict[str, list[str]]]:
    """attribute -> value -> selected ids covering it (values nobody covers included)."""
    matrix: dict[str, dict[str, list[str]]] = {}
    for a in proposal.assessed.values():
        if not a.eligibility.eligible:
            continue
        for attribute, values in attribute_values(a.nomination, proposal.policy).items():
            for value in values:
                matrix.setdefault(attribute, {}).setdefault(value, [])
    for pid in proposal.result.selected:
        a = proposal.assessed[pid]
        for attribute, values in attribute_values(a.nomination, proposal.policy).items():
            for value in values:
                matrix[attribute][value].append(pid)
    return matrix
