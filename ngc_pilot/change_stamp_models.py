"""The change stamps ``/metrics`` reuses its cached blocks by on SQLite (SQLModel; Alembic 0015).

One row per input of a cached ``/metrics`` block (``tenants``, ``usage``,
``invoices``, ...), holding an integer that database triggers on SQLite bump
in the same transaction as every write to the tables that block is read
from (see the migration for which tables feed which stamp).  A scrape reads
these few rows instead of fingerprinting thousands of rows
(:mod:`ngc_pilot.metrics_cache`).

A module of its own so that ``models.py`` stays small; ``models.py`` imports
it.  Deliberately no logic here and never written by the application: the
triggers are the only writers, and on PostgreSQL the table stays at its
seeded zeros (PostgreSQL's fingerprints use row versions, ``xmin``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

# Stamp name -> the tables whose writes bump it (the migration's triggers).
STAMPED_TABLES: dict[str, tuple[str, ...]] = {
    "tenants": ("tenant", "kube_tenant", "pilot"),
    "usage": ("usage_record",),
    "invoices": ("invoice",),
    "steps": ("provision_step",),
    "capacity": ("capacity_snapshot",),
    "jobs": ("job_run",),
    "areas": ("evaluation_answer", "support_item"),
    "requests": ("change_request",),
    "outbox": ("outbox_message",),
}


class ChangeStamp(SQLModel, table=True):
    __tablename__ = "change_stamp"

    name: str = Field(primary_key=True, max_length=32)
    stamp: int = Field(sa_column=Column(BigInteger, nullable=False))
