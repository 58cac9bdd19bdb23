"""The tables of what the pilot's evaluation is made of (SQLModel; Alembic 0004).

* ``EvaluationResponse`` and ``EvaluationAnswer`` — one respondent's answers
  for one pilot to one version of the questionnaire; the key (pilot,
  respondent, version) makes a re-import update, never duplicate.
* ``SupportItem`` — the support log: opened, first response, closed.
* ``Milestone`` — an onboarding milestone of a pilot, once per kind, with the
  time it first happened.

A module of their own so that ``models.py`` stays one screenful of the core
tables; ``models.py`` imports this module, so every table is on
``SQLModel.metadata`` wherever the models are.  Deliberately no logic here:
validation and bookkeeping are in ``evaluation``, ``support_log`` and
``milestones``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow


class EvaluationResponse(SQLModel, table=True):
    __tablename__ = "evaluation_response"
    __table_args__ = (
        UniqueConstraint(
            "pilot_id", "respondent", "questionnaire_version", name="uq_evaluation_response_key"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64, index=True)
    respondent: str = Field(max_length=200)
    questionnaire_version: int
    questionnaire_digest: str = Field(max_length=64)
    source: str = Field(max_length=500)
    revision: int = 1
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class EvaluationAnswer(SQLModel, table=True):
    """One answer: ``score`` (1..5) for a scale question, ``text`` for a free-text one."""

    __tablename__ = "evaluation_answer"
    __table_args__ = (
        UniqueConstraint("response_id", "question_id", name="uq_evaluation_answer_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="evaluation_response.id", index=True)
    question_id: str = Field(max_length=64)
    area: str = Field(max_length=32)
    score: int | None = None
    text: str | None = Field(default=None, max_length=4000)


class SupportItem(SQLModel, table=True):
    __tablename__ = "support_item"

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64, index=True)
    area: str = Field(max_length=32)
    summary: str = Field(max_length=2000)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    opened_by: str = Field(max_length=200)
    responded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    resolution: str | None = Field(default=None, max_length=2000)


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"
    __table_args__ = (UniqueConstraint("pilot_id", "kind", name="uq_milestone_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64)
    # tenant_active | first_server | first_metered_use | data_access_granted
    kind: str = Field(max_length=32)
    reached_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    evidence: str = Field(max_length=300)
    recorded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
