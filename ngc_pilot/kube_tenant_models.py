"""The ``kube_tenant`` table: a pilot's Kubernetes namespace tenant (SQLModel; Alembic 0012).

A pilot's tenant on each platform is one row: the OpenStack tenant stays the
``tenant`` row it always was (its platform is ``openstack``), the namespace
tenant is a ``kube_tenant`` row (platform ``kubernetes``), both keyed by the
pilot id, so a pilot with both platforms has one tenant per platform and
nothing that reads ``tenant`` changes.  The migration's docstring says why
this, and not a platform column in ``tenant``'s primary key.  The token's
expiry is stored, never the token (it is only in the researcher's
kubeconfig).  Deliberately no logic here (``ngc_pilot.namespace_tenants``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from ngc_pilot.db import UTCDateTime, utcnow

PLATFORM = "kubernetes"


class KubeTenant(SQLModel, table=True):
    """A pilot's namespace on the Kubernetes cluster: what was provisioned and its state."""

    __tablename__ = "kube_tenant"

    pilot_id: str = Field(primary_key=True, foreign_key="pilot.id", max_length=64)
    server: str = Field(max_length=500)  # the API server's URL
    namespace: str = Field(max_length=63)
    size: str = Field(max_length=32)
    state: str = Field(default="planned", max_length=32)  # as tenant.state
    token_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    environment_path: str | None = Field(default=None, max_length=500)
    last_error: str | None = Field(default=None, max_length=2000)
    suspended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
