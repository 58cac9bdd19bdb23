"""The database tables (SQLModel).  Schema changes go through Alembic only.

* ``Application`` — one nomination as validated at import (columns for
  listing and filtering, plus the full validated document).
* ``AuditEvent`` — append-only log of every state change; the migration adds
  triggers that refuse UPDATE and DELETE on it.
* ``SelectionDecision`` — a committed selection: who, why, with which policy,
  the solver's certificate and the explanations.
* ``Pilot`` — a selected project with its planned dates; later issues attach
  tenants to it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow


class Application(SQLModel, table=True):
    __tablename__ = "application"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    pi_name: str = Field(max_length=200)
    pi_email: str = Field(max_length=254)
    institution: str = Field(max_length=200, index=True)
    institution_type: str = Field(max_length=64)
    nominated_by: str = Field(max_length=200)
    data_volume_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    maturity: int
    ready_date: date
    commits_to_evaluation: bool
    data_processing_agreement: str = Field(max_length=32)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=500)
    revision: int = 1
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100, index=True)
    subject: str = Field(max_length=200, index=True)
    reason: str | None = Field(default=None, max_length=2000)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SelectionDecision(SQLModel, table=True):
    __tablename__ = "selection_decision"

    id: int | None = Field(default=None, primary_key=True)
    decided_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    decided_by: str = Field(max_length=200)
    reason: str = Field(max_length=2000)
    policy_digest: str = Field(max_length=64)
    k_min: int
    k_max: int
    lock_in: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lock_out: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    objective: float
    optimal: bool
    gap: float | None = None
    selected: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    explanations: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )


class Pilot(SQLModel, table=True):
    __tablename__ = "pilot"

    id: str = Field(primary_key=True, max_length=64)
    application_id: str = Field(foreign_key="application.id", max_length=64)
    decision_id: int = Field(foreign_key="selection_decision.id")
    state: str = Field(default="selected", max_length=32)
    planned_start: date
    planned_end: date
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Tenant(SQLModel, table=True):
    """A pilot's tenant cloud: what ngc-pilot provisioned, and where it stands."""

    __tablename__ = "tenant"

    pilot_id: str = Field(primary_key=True, foreign_key="pilot.id", max_length=64)
    cloud: str = Field(max_length=100)
    size: str = Field(max_length=32)
    project_name: str = Field(max_length=200)
    project_id: str | None = Field(default=None, max_length=64)
    cidr: str = Field(max_length=43)
    state: str = Field(
        default="planned", max_length=32
    )  # planned|provisioning|active|failed|suspended|torn_down
    credential_id: str | None = Field(
        default=None, max_length=64
    )  # the id only; the secret is in the bundle
    environment_path: str | None = Field(default=None, max_length=500)
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ProvisionStep(SQLModel, table=True):
    """The step ledger: every change applied to a tenant, started/done/failed."""

    __tablename__ = "provision_step"

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64, index=True)
    run_id: str = Field(max_length=32)
    step: str = Field(max_length=300)
    action: str = Field(max_length=16)
    resource: str = Field(max_length=64)
    status: str = Field(max_length=16)  # started | done | failed
    resource_id: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=2000)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
