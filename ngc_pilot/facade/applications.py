"""Applications, nominations, selection, pilots and the audit log, for every interface.

Each method is one transaction (``session_scope``) over the service
functions (``intake``, ``selection``, ``views``, ``audit``) and returns
frozen, already-loaded objects or plain rows, so nothing lazy-loads later on
an interface's thread; the TUI's form and the CLI's commands both come here.
It does not word errors for a particular interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ngc_pilot import audit, intake, selection, views
from ngc_pilot.db import session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.models import Application, SelectionDecision
from policies.nomination import Nomination
from policies.problems import Problem, problems_from_validation

FORM_SOURCE = "form"


@dataclass(frozen=True)
class ApplicationRow:
    """One application as the Applications screen lists and details it."""

    assessed: selection.Assessed
    pilot_state: str | None  # "selected", "withdrawn", or None when not a pilot

    @property
    def id(self) -> str:
        return self.assessed.id


@dataclass(frozen=True)
class ProposalView:
    """A solved proposal with what the Selection screen shows beside it."""

    proposal: selection.Proposal
    data: dict[str, Any]  # Proposal.as_dict(): selected, capacity, explanations, ...
    coverage: dict[str, dict[str, list[str]]]
    fingerprint: tuple[int, int, str]  # of the applications it was solved on

    @property
    def options(self) -> selection.SelectOptions:
        return self.proposal.options


@dataclass(frozen=True)
class DecisionView:
    id: int
    decided_by: str
    reason: str
    selected: tuple[str, ...]
    objective: float
    optimal: bool


class ApplicationsArea(FacadeBase):
    def applications(self) -> list[ApplicationRow]:
        with session_scope(self.engine) as session:
            assessed = selection.assess_all(session, self.policy)
            states = {p.id: p.state for p in selection.pilots(session)}
        return [ApplicationRow(a, states.get(a.id)) for a in assessed]

    def validate_nomination(self, raw: Mapping[str, Any]) -> Nomination:
        """Validate a form's record exactly as the import validates a file's record."""
        try:
            return Nomination.model_validate(
                dict(raw), context={"vocabularies": self.policy.vocabularies}
            )
        except ValidationError as exc:
            raise InputError(
                problems_from_validation(exc, source=FORM_SOURCE, record=str(raw.get("id") or ""))
            ) from exc

    def save_nomination(self, raw: Mapping[str, Any], *, expect_new: bool) -> intake.ImportReport:
        """Validate and store one nomination from the form (a new revision when it exists)."""
        nomination = self.validate_nomination(raw)
        with session_scope(self.engine) as session:
            exists = session.get(Application, nomination.id) is not None
            if expect_new and exists:
                raise InputError(
                    [
                        Problem(
                            FORM_SOURCE,
                            "id",
                            nomination.id,
                            "an application with this id exists; edit it instead (e)",
                            record=nomination.id,
                        )
                    ]
                )
            return intake.store(
                session,
                [intake.SourcedNomination(nomination, f"{FORM_SOURCE} ({self.actor})")],
                actor=self.actor,
                files=[FORM_SOURCE],
            )

    def import_files(self, paths: Sequence[Path]) -> intake.ImportReport:
        """Validate and store the files' nominations: all or nothing."""
        from sqlalchemy.exc import IntegrityError

        try:
            with session_scope(self.engine) as session:
                return intake.import_files(session, list(paths), self.policy, actor=self.actor)
        except IntegrityError:
            # Another import stored the same ids meanwhile: once more, as updates.
            with session_scope(self.engine) as session:
                return intake.import_files(session, list(paths), self.policy, actor=self.actor)

    def validate_files(
        self, paths: Sequence[Path]
    ) -> tuple[list[intake.SourcedNomination], list[Problem]]:
        """The files' valid nominations and every problem; stores nothing."""
        return intake.validate_files(list(paths), self.policy)

    def assessed(self) -> list[selection.Assessed]:
        """Every application with its eligibility and score under the policy."""
        with session_scope(self.engine) as session:
            return selection.assess_all(session, self.policy)

    def assessed_one(self, app_id: str) -> selection.Assessed:
        with session_scope(self.engine) as session:
            return selection.assess_one(selection.get_application(session, app_id), self.policy)

    # -------------------------------------------------------------- selection

    def propose(self, options: selection.SelectOptions) -> ProposalView:
        with session_scope(self.engine) as session:
            fingerprint = views.applications_fingerprint(session)
            proposal = selection.propose(session, self.policy, options)
        coverage = selection.coverage_matrix(proposal) if proposal.result.feasible else {}
        return ProposalView(proposal, proposal.as_dict(), coverage, fingerprint)

    def select(
        self,
        options: selection.SelectOptions,
        *,
        commit: bool = False,
        by: str = "",
        reason: str = "",
    ) -> tuple[bool, dict[str, Any]]:
        """Solve (and if ``commit``, record, in the same transaction): (feasible, the proposal
        with its coverage and, when committed, its decision)."""
        with session_scope(self.engine) as session:
            proposal = selection.propose(session, self.policy, options)
            data = proposal.as_dict()
            feasible = proposal.result.feasible
            data["coverage"] = selection.coverage_matrix(proposal) if feasible else {}
            if commit:
                decision = selection.commit(
                    session, proposal, by=by, reason=reason, actor=self.actor
                )
                data["decision"] = {
                    "id": decision.id,
                    "decided_by": decision.decided_by,
                    "reason": decision.reason,
                }
        return feasible, data

    def why_not(self, app_id: str, options: selection.SelectOptions) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            return selection.explain_why_not(session, self.policy, app_id, options)

    def commit(self, view: ProposalView, *, by: str, reason: str) -> DecisionView:
        """Record the proposal, unless the applications changed since it was solved."""
        with session_scope(self.engine) as session:
            if views.applications_fingerprint(session) != view.fingerprint:
                raise InputError(
                    "the applications changed since this proposal was solved; "
                    "re-solve (r) and commit again"
                )
            decision = selection.commit(
                session, view.proposal, by=by, reason=reason, actor=self.actor
            )
            return _decision_view(decision)

    def latest_decision(self) -> DecisionView | None:
        with session_scope(self.engine) as session:
            rows = selection.decisions(session)
            return _decision_view(rows[-1]) if rows else None

    # ---------------------------------------------------------- pilots, audit

    def pilots(self) -> list[views.PilotView]:
        with session_scope(self.engine) as session:
            return views.pilots(session)

    def pilot_rows(self) -> list[dict[str, Any]]:
        """The committed pilots with their planned dates, as plain rows."""
        with session_scope(self.engine) as session:
            return [
                {
                    "id": p.id,
                    "state": p.state,
                    "decision": p.decision_id,
                    "planned_start": p.planned_start.isoformat(),
                    "planned_end": p.planned_end.isoformat(),
                }
                for p in selection.pilots(session)
            ]

    def decision_rows(self) -> list[dict[str, Any]]:
        """Every recorded selection decision, oldest first, as plain rows."""
        with session_scope(self.engine) as session:
            return [
                {
                    "id": d.id,
                    "decided_at": d.decided_at.isoformat(),
                    "decided_by": d.decided_by,
                    "reason": d.reason,
                    "selected": d.selected,
                    "objective": d.objective,
                    "optimal": d.optimal,
                    "gap": d.gap,
                    "policy_digest": d.policy_digest,
                    "lock_in": d.lock_in,
                    "lock_out": d.lock_out,
                }
                for d in selection.decisions(session)
            ]

    def audit_events(
        self, *, action: str | None = None, subject: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The audit log (filtered by action prefix and subject; the last ``limit`` events)."""
        with session_scope(self.engine) as session:
            return [
                audit.as_dict(e)
                for e in audit.events(session, action=action, subject=subject, limit=limit)
            ]


def _decision_view(decision: SelectionDecision) -> DecisionView:
    return DecisionView(
        id=decision.id or 0,
        decided_by=decision.decided_by,
        reason=decision.reason,
        selected=tuple(decision.selected),
        objective=decision.objective,
        optimal=decision.optimal,
    )
