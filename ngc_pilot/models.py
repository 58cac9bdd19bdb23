"""The database tables (SQLModel).  Schema changes go through Alembic only.

* ``Application`` — one nomination as validated at import (columns for
  listing and filtering, plus the full validated document).
* ``AuditEvent`` — append-only log of every state change; the migration adds
  triggers that refuse UPDATE and DELETE on it.
* ``SelectionDecision`` — a committed selection: who, why, with which policy,
  the solver's certificate and the explanations.
* ``Pilot`` — a selected project with its planned dates.
* ``Tenant`` and ``ProvisionStep`` — a pilot's tenant cloud and the ledger of
  every provisioning step.
* ``UsageRecord`` and ``MeterWindow`` — metered usage per (tenant, metric,
  window), and which windows a metering cycle has covered; ``UsageTotal`` —
  the running sum per (tenant, metric), kept by triggers.
* ``Invoice`` and ``InvoiceLine`` — shadow invoices, one revision per change;
  ``InvoicePriceDigest`` and ``InvoicePriceSpan`` — the price versions they
  used, kept by triggers (what ``invoice_revisions.price_changes`` reads first).
* ``CapacitySnapshot`` — Placement's totals per resource class at one moment.
* ``JobRun`` — every run of a scheduled job, for ``jobs`` and ``/metrics``.
* ``OutboxMessage`` — notices to send by e-mail, recorded once each, with
  their delivery state.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Unicode,
    UniqueConstraint,
    event,
)
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow
from policies.nomination import id_key


class Application(SQLModel, table=True):
    __tablename__ = "application"

    id: str = Field(primary_key=True, max_length=64)
    # The id folded as cloud project names are (policies.nomination.id_key), unique, so
    # two nominations can never share one tenant; set on insert (NULL only for rows
    # that already collided before migration 0004).
    id_key: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True, index=True)
    )
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


@event.listens_for(Application, "before_insert")
def _fold_id(_mapper: object, _connection: object, application: Application) -> None:
    if application.id_key is None:
        application.id_key = id_key(application.id)


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
    # The latest decision the proposal was computed against (0: none); unique, so two
    # commits of proposals that saw the same state cannot both succeed (issue 8).
    based_on: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True, unique=True, index=True)
    )


class Pilot(SQLModel, table=True):
    __tablename__ = "pilot"

    id: str = Field(primary_key=True, max_length=64)
    application_id: str = Field(foreign_key="application.id", max_length=64)
    decision_id: int = Field(foreign_key="selection_decision.id")
    state: str = Field(default="selected", max_length=32)
    planned_start: date
    planned_end: date
    # From this day (UTC) the tenant may get the data-access role; None: the
    # lifecycle policy's data_access.date (migration 0009).
    data_access_date: date | None = None
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
    suspended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    data_access_granted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
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


# ------------------------------------------------------------------ metering


class UsageRecord(SQLModel, table=True):
    """Usage of one metric by one tenant in one window.  The key makes a re-run
    of a window overwrite, never add: (pilot_id, metric, window_start)."""

    __tablename__ = "usage_record"
    __table_args__ = (
        UniqueConstraint("pilot_id", "metric", "window_start", name="uq_usage_record_key"),
        Index("ix_usage_record_window_start", "window_start"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64)
    metric: str = Field(
        max_length=32
    )  # vcpu_hours | ram_gb_hours | disk_gb_hours | volume_gb_hours | gpu_hours
    window_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    window_end: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    quantity: Decimal = Field(sa_column=Column(Numeric(20, 6), nullable=False))
    source: str = Field(max_length=32)  # nova | cinder | kubernetes
    collected_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class UsageTotal(SQLModel, table=True):
    """Each tenant's usage so far per metric: the sum of its ``UsageRecord``
    quantities, kept by database triggers on ``usage_record`` (migration 0003),
    never written by the application.  ``/metrics`` reads it."""

    __tablename__ = "usage_total"

    pilot_id: str = Field(primary_key=True, max_length=64)
    metric: str = Field(primary_key=True, max_length=32)
    quantity: Decimal = Field(sa_column=Column(Numeric(24, 6), nullable=False))


class MeterWindow(SQLModel, table=True):
    """A window a metering cycle has covered: what backfill looks for."""

    __tablename__ = "meter_window"

    window_start: datetime = Field(sa_column=Column(UTCDateTime, primary_key=True))
    window_end: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    metered_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    tenants: int = 0
    records: int = 0
    runs: int = 1  # how often the window was (re)computed


# ------------------------------------------------------------------- billing


class Invoice(SQLModel, table=True):
    """A shadow invoice: one tenant, one month, one revision.  A changed
    re-rating adds a revision; an existing revision is never altered."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("pilot_id", "month", "revision", name="uq_invoice_revision"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: uq_invoice_revision starts with pilot_id (0017 dropped it).
    pilot_id: str = Field(foreign_key="pilot.id", max_length=64)
    month: str = Field(max_length=7, index=True)  # YYYY-MM
    revision: int = 1
    final: bool = False  # the month had ended when this revision was rated
    currency: str = Field(default="DKK", max_length=3)
    list_total: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    discount_total: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    charged_total: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    prices: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    rated_by: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    item: str = Field(
        max_length=32
    )  # vcpu_hours | ram_gb_hours | storage_tb_months | gpu_hours | base_fee
    description: str = Field(max_length=300)
    price_version: str = Field(max_length=64)
    period_from: date
    period_until: date  # exclusive
    quantity: Decimal = Field(sa_column=Column(Numeric(20, 6), nullable=False))
    unit: str = Field(max_length=32)
    unit_price: Decimal = Field(sa_column=Column(Numeric(16, 6), nullable=False))
    list_amount: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    discount: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    charged: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))


class InvoicePriceDigest(SQLModel, table=True):
    """A (price version, digest) pair that some invoice revision's price record holds.

    Kept by triggers on ``invoice`` (migration 0017) in the writing transaction;
    never written by the application.  Every revision counts, latest or
    superseded, and a deleted invoice's pairs stay: a superset of what the
    latest revisions use, which is all :func:`price_changes` needs to answer
    "nothing changed" without reading the invoices.
    """

    __tablename__ = "invoice_price_digest"

    price_version: str = Field(primary_key=True, max_length=64)
    digest: str = Field(primary_key=True, max_length=128)


class InvoicePriceSpan(SQLModel, table=True):
    """Per price version: the first and last day any invoice line rated with it
    covers (``period_until`` exclusive, as on the lines).  Kept by triggers on
    ``invoice_line`` (0017) like :class:`InvoicePriceDigest`; it only widens."""

    __tablename__ = "invoice_price_span"

    price_version: str = Field(primary_key=True, max_length=64)
    period_from: date
    period_until: date


# ---------------------------------------------------------------- operations


class CapacitySnapshot(SQLModel, table=True):
    """Placement's inventory and usage per resource class at one moment."""

    __tablename__ = "capacity_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    taken_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    resource_class: str = Field(max_length=64)  # VCPU | MEMORY_MB | DISK_GB
    total: float
    reserved: float = 0
    allocation_ratio: float = 1.0
    used: float = 0  # Placement allocations
    allocated: float = 0  # sum of pilot tenant quotas, same unit


class JobRun(SQLModel, table=True):
    """One run of a scheduled job (``jobs``, ``/metrics``)."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_job_started", "job_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=64)
    scheduled_for: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    status: str = Field(max_length=16)  # running | succeeded | failed | skipped
    attempt: int = 1
    duration_seconds: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=2000)
    worker: str = Field(max_length=200)  # host:pid of the serve process


class OutboxMessage(SQLModel, table=True):
    """A notice to send, recorded once per key (the idempotency key); sending is separate.

    Whoever records a notice writes ``subject`` and ``body`` already rendered
    (:func:`ngc_pilot.mail.queue` renders the shipped templates); the sender
    (:mod:`ngc_pilot.mail.sending`) moves ``status`` from ``queued`` to
    ``sending`` (claimed, ``claimed_at``) to ``sent`` or back to ``queued``
    (retry at ``next_attempt_at``) or to ``failed``.  ``pilot_id`` is empty
    for mail about no pilot (the steering group's).  ``attachments`` holds the
    files themselves (name, content type, base64), so what is sent is what was
    queued even if the file has since changed or gone.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # e.g. expiry-14d:RH-2021-07
    pilot_id: str | None = Field(default=None, foreign_key="pilot.id", max_length=64, index=True)
    kind: str = Field(max_length=64)
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(max_length=10000)
    language: str = Field(default="da", max_length=8)
    attachments: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default="queued", max_length=16)  # queued | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, max_length=500)
    message_id: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


# APScheduler's persistent job store (``SQLAlchemyJobStore``), declared here so
# that Alembic owns the table like every other; the columns are APScheduler
# 3.x's own, which it finds in place and does not recreate.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


# The evaluation's, the members', the change requests', the daily usage
# rollup's and /metrics' change stamps' tables live in modules of their own; importing them here puts them on SQLModel.metadata wherever the
# models are (migrations, tests).
from ngc_pilot import (  # noqa: E402
    change_stamp_models,  # noqa: F401
    claim_models,  # noqa: F401
    evaluation_models,  # noqa: F401
    kube_tenant_models,  # noqa: F401
    member_models,  # noqa: F401
    request_models,  # noqa: F401
    usage_rollup_models,  # noqa: F401
)
