"""Tenants to meter and a usage reader, for the tests of replicas sharing work.

The reader is a double of the ``UsageReader`` protocol because these tests
need a cloud that can be made to stop mid-item on cue (and usage, hours in
the past, that differs per tenant, metric and window); the real Nova reading
is tested against devcloud in ``tests/integration/test_metering_devcloud.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from ngc_pilot.db import session_scope
from ngc_pilot.models import MeterWindow, Tenant, UsageRecord
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.settings import MeteringSettings
from policies.tenancy import load_tenant_policy
from provisioner.usage import METRICS, UsageSample
from support.pilots import seed_pilots

HOURLY = MeteringSettings(window_minutes=60, recompute_windows=2, backfill_max_windows=744)


def pilot_ids(n: int) -> list[str]:
    return [f"R-{i:03d}" for i in range(n)]


def seed_tenants(url: str, n: int, created: datetime) -> Engine:
    """``n`` active tenants, projects ``p-R-000``..., created at ``created``."""
    ids = pilot_ids(n)
    engine = seed_pilots(url, ids)
    with session_scope(engine) as session:
        for i, pid in enumerate(ids):
            session.add(
                Tenant(
                    pilot_id=pid,
                    cloud="test",
                    size="small",
                    project_name=f"ngc-{pid.lower()}",
                    project_id=f"p-{pid}",
                    cidr=f"10.{i // 250}.{i % 250}.0/24",
                    state="active",
                    created_at=created,
                    updated_at=created,
                )
            )
    return engine


class Reader:
    """Usage that differs per project, metric and window; ``hook`` runs on each call."""

    def __init__(self, hook: Callable[[int], None] | None = None) -> None:
        self.hook = hook
        self.calls: list[tuple[tuple[str, ...], datetime]] = []
        self._lock = threading.Lock()

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        with self._lock:
            self.calls.append((tuple(sorted(project_ids)), start))
            n = len(self.calls)
        if self.hook is not None:
            self.hook(n)
        return [
            UsageSample(
                p,
                m,
                Decimal(sum(map(ord, p + m)) % 7 + start.hour) / Decimal(3),
                "cinder" if m == "volume_gb_hours" else "nova",
            )
            for p in project_ids
            for m in METRICS
        ]


def provisioner(engine: Engine, reader: Any, tmp: Path) -> Provisioner:
    return Provisioner(
        engine=engine,
        tenant_policy=load_tenant_policy(),
        backend_factory=lambda: reader,
        cloud="test",
        environments_dir=tmp / "env",
        actor="tester",
    )


def usage_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every usage record without its id and collection time (which differ run to run)."""
    with session_scope(engine) as session:
        return [
            (r.pilot_id, r.metric, r.window_start, r.window_end, r.quantity, r.source)
            for r in session.exec(
                select(UsageRecord).order_by(
                    col(UsageRecord.window_start),
                    col(UsageRecord.pilot_id),
                    col(UsageRecord.metric),
                )
            ).all()
        ]


def covered(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        return [
            (w.window_start, w.window_end, w.tenants, w.records, w.runs)
            for w in session.exec(select(MeterWindow).order_by(col(MeterWindow.window_start)))
        ]


def hours_ago(now: datetime, hours: int) -> datetime:
    return now - timedelta(hours=hours)
