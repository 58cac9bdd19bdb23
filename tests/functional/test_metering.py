"""The metering service's bookkeeping on SQLite and PostgreSQL.

The usage reader here is a scripted double (``Scripted``) because these tests
need what devcloud cannot give on demand: usage in hour-long windows hours in
the past, a cloud that reports more for a window *after* it was metered (late
data), and hours of simulated downtime — all at a clock the test sets.  The
real Nova and Cinder readings, and their agreement with Nova's own numbers,
are tested against devcloud in ``tests/integration/test_metering.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from ngc_pilot import audit, metering
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.models import (
    Application,
    MeterWindow,
    Pilot,
    SelectionDecision,
    Tenant,
    UsageRecord,
)
from ngc_pilot.provisioner_config import Provisioner
from ngc_pilot.settings import MeteringSettings
from ngc_pilot.usage_upsert import upsert_records
from policies.tenancy import load_tenant_policy
from provisioner.usage import METRICS, UsageSample

pytestmark = pytest.mark.migrated

Quantity = Callable[[str, str, datetime], Decimal]


def t(hh: int, mm: int = 0, day: int = 10) -> datetime:
    return datetime(2021, 5, day, hh, mm, tzinfo=UTC)


class Scripted:
    """A UsageReader whose answer per (project, metric, window start) the test sets."""

    def __init__(self) -> None:
        self.quantity: Quantity = lambda project, metric, start: Decimal(0)
        self.calls: list[tuple[tuple[str, ...], datetime, datetime]] = []

    def usage(
        self, project_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[UsageSample]:
        self.calls.append((tuple(sorted(project_ids)), start, end))
        return [
            UsageSample(
                p, m, self.quantity(p, m, start), "cinder" if m == "volume_gb_hours" else "nova"
            )
            for p in project_ids
            for m in METRICS
        ]


def steady(project: str, metric: str, start: datetime) -> Decimal:
    """Two vCPUs all the time for project p-a; a 10 GB volume for p-b."""
    if project == "p-a" and metric == "vcpu_hours":
        return Decimal(2)
    if project == "p-b" and metric == "volume_gb_hours":
        return Decimal(10)
    return Decimal(0)


@pytest.fixture
def world(database, tmp_path):
    engine = make_engine(database.url)
    with session_scope(engine) as session:
        decision = SelectionDecision(
            decided_by="t",
            reason="t",
            policy_digest="x",
            k_min=1,
            k_max=3,
            objective=1.0,
            optimal=True,
        )
        session.add(decision)
        session.flush()
        for pid, project, state, created in (
            ("A", "p-a", "active", t(10, 40)),
            ("B", "p-b", "suspended", t(11, 5)),
            ("P", None, "planned", t(9)),  # no project yet: nothing to meter
        ):
            session.add(
                Application(
                    id=pid,
                    name=pid,
                    pi_name=pid,
                    pi_email=f"{pid.lower()}@example.org",
                    institution=pid,
                    institution_type="university",
                    nominated_by="t",
                    data_volume_bytes=1,
                    maturity=3,
                    ready_date=date(2021, 5, 1),
                    commits_to_evaluation=True,
                    data_processing_agreement="signed",
                    document={},
                    source="t",
                )
            )
            session.flush()
            session.add(
                Pilot(
                    id=pid,
                    application_id=pid,
                    decision_id=decision.id,
                    planned_start=date(2021, 5, 1),
                    planned_end=date(2021, 8, 31),
                )
            )
            session.flush()
            session.add(
                Tenant(
                    pilot_id=pid,
                    cloud="test",
                    size="small",
                    project_name=f"ngc-{pid.lower()}",
                    project_id=project,
                    cidr=f"10.240.{ord(pid)}.0/24",
                    state=state,
                    created_at=created,
                    updated_at=created,
                )
            )
    reader = Scripted()
    reader.quantity = steady
    prov = Provisioner(
        engine=engine,
        tenant_policy=load_tenant_policy(),
        backend_factory=lambda: reader,
        cloud="test",
        environments_dir=tmp_path / "env",
        actor="tester",
    )
    yield prov, reader, engine
    engine.dispose()


HOURLY = MeteringSettings(window_minutes=60, recompute_windows=3, backfill_max_windows=744)


def records(engine) -> list[tuple]:
    with session_scope(engine) as session:
        return [
            (r.id, r.pilot_id, r.metric, r.window_start, r.quantity, r.source, r.collected_at)
            for r in session.exec(
                select(UsageRecord).order_by(
                    col(UsageRecord.window_start),
                    col(UsageRecord.pilot_id),
                    col(UsageRecord.metric),
                )
            ).all()
        ]


def windows(engine) -> dict[datetime, MeterWindow]:
    with session_scope(engine) as session:
        return {w.window_start: w for w in session.exec(select(MeterWindow)).all()}


def quantity(engine, pilot: str, metric: str, start: datetime) -> Decimal | None:
    with session_scope(engine) as session:
        row = session.exec(
            select(UsageRecord).where(
                UsageRecord.pilot_id == pilot,
                UsageRecord.metric == metric,
                UsageRecord.window_start == start,
            )
        ).first()
        return row.quantity if row else None


def test_first_cycle_meters_from_the_earliest_tenant_with_a_zero_row_per_metric(world):
    prov, reader, engine = world
    report = metering.meter(prov, HOURLY, now=t(13, 5))
    assert [w["start"] for w in report.windows] == [t(h).isoformat() for h in (10, 11, 12)]
    assert [w["kind"] for w in report.windows] == ["backfill", "backfill", "new"]
    assert report.backfilled == 2 and report.recomputed == 0
    # A from 10:40 (3 windows), B from 11:05 (2 windows), P never: 5 tenant-windows x 5 metrics
    assert report.records_new == 25 and report.records_changed == 0
    assert report.tenants == 2
    assert [c[0] for c in reader.calls] == [("p-a",), ("p-a", "p-b"), ("p-a", "p-b")]
    assert report.totals["vcpu_hours"] == Decimal(6)
    assert report.totals["volume_gb_hours"] == Decimal(20)
    assert quantity(engine, "A", "gpu_hours", t(10)) == Decimal(0)  # zero is stored
    assert quantity(engine, "B", "vcpu_hours", t(10)) is None  # B did not exist yet
    covered = windows(engine)
    assert sorted(covered) == [t(10), t(11), t(12)]
    assert covered[t(10)].tenants == 1 and covered[t(11)].records == 10
    with session_scope(engine) as session:
        [event] = audit.events(session, action="usage.metered")
    assert event.details["records_new"] == 25 and event.details["totals"]["vcpu_hours"] == (
        "6.000000"
    )


def test_a_rerun_of_the_same_windows_never_double_counts_and_changes_nothing(world):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))
    before = records(engine)
    again = metering.meter(prov, HOURLY, now=t(13, 50))  # same hour: recompute only
    assert again.as_dict()["new"] == 0 and again.recomputed == 3
    assert again.records_unchanged == 25 and again.records_written == 0
    explicit = metering.meter(prov, HOURLY, since=t(10), until=t(13), now=t(13, 55))
    assert explicit.recomputed == 3 and explicit.records_written == 0
    assert records(engine) == before  # same ids, quantities and collection times
    assert {w.runs for w in windows(engine).values()} == {3}
    with session_scope(engine) as session:
        summary = metering.usage_summary(session, pilot_id="A")
    vcpu = next(r for r in summary if r["metric"] == "vcpu_hours")
    assert vcpu["quantity"] == Decimal("6.000000") and vcpu["windows"] == 3
    with session_scope(engine) as session:
        assert len(audit.events(session, action="usage.metered")) == 3  # one per cycle


def test_missed_windows_after_downtime_are_backfilled_and_the_cap_resumes_next_cycle(world):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))
    capped = MeteringSettings(window_minutes=60, recompute_windows=1, backfill_max_windows=4)
    down = metering.meter(prov, capped, now=t(19, 10))  # 13:00 .. 18:59 were missed
    assert [w["start"] for w in down.windows if w["kind"] != "recompute"] == [
        t(h).isoformat() for h in (13, 14, 15, 16)
    ]
    assert down.backfilled == 4 and down.remaining == 2 and down.recomputed == 1
    rest = metering.meter(prov, capped, now=t(19, 20))
    assert [(w["start"], w["kind"]) for w in rest.windows] == [
        (t(16).isoformat(), "recompute"),
        (t(17).isoformat(), "backfill"),
        (t(18).isoformat(), "new"),
    ]
    assert rest.remaining == 0
    assert sorted(windows(engine)) == [t(h) for h in range(10, 19)]
    with session_scope(engine) as session:
        [vcpu] = [
            r for r in metering.usage_summary(session, pilot_id="A") if r["metric"] == "vcpu_hours"
        ]
    assert vcpu["quantity"] == Decimal(2 * 9) and vcpu["windows"] == 9


def test_late_data_changes_a_recomputed_window_but_not_one_outside_the_recompute_set(world):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))
    one = MeteringSettings(window_minutes=60, recompute_windows=1, backfill_max_windows=744)

    def late(project: str, metric: str, start: datetime) -> Decimal:
        # Nova now knows of a server that launched in the 12:00 window (and,
        # wrongly for this test's purpose, claims more for 10:00 too)
        if project == "p-a" and metric == "vcpu_hours" and start in (t(10), t(12)):
            return Decimal("2.5")
        return steady(project, metric, start)

    reader.quantity = late
    report = metering.meter(prov, one, now=t(14, 1))
    assert [(w["start"], w["kind"]) for w in report.windows] == [
        (t(12).isoformat(), "recompute"),
        (t(13).isoformat(), "new"),
    ]
    assert report.records_changed == 1 and report.records_new == 10
    assert quantity(engine, "A", "vcpu_hours", t(12)) == Decimal("2.5")
    assert quantity(engine, "A", "vcpu_hours", t(10)) == Decimal(2)  # outside: untouched


def test_a_recompute_never_lowers_cinder_usage_but_follows_nova_down(world):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))

    def deleted(project: str, metric: str, start: datetime) -> Decimal:
        return Decimal(0)  # the volume and the server were deleted meanwhile

    reader.quantity = deleted
    report = metering.meter(prov, HOURLY, now=t(13, 10))
    assert quantity(engine, "B", "volume_gb_hours", t(12)) == Decimal(10)  # Cinder forgot it
    assert quantity(engine, "A", "vcpu_hours", t(12)) == Decimal(0)  # Nova revised it
    assert report.records_changed == 3  # A's vcpu in 10, 11, 12
    assert report.totals["volume_gb_hours"] == Decimal(20)


def test_a_torn_down_tenant_is_metered_only_before_its_teardown(world):
    prov, reader, engine = world
    with session_scope(engine) as session:
        tenant = session.get(Tenant, "A")
        tenant.state, tenant.updated_at = "torn_down", t(11, 30)
        session.add(tenant)
    metering.meter(prov, HOURLY, now=t(13, 5))
    assert quantity(engine, "A", "vcpu_hours", t(11)) == Decimal(2)
    assert quantity(engine, "A", "vcpu_hours", t(12)) is None
    assert [c[0] for c in reader.calls] == [("p-a",), ("p-a", "p-b"), ("p-b",)]


def test_windows_without_any_tenant_are_covered_without_asking_the_cloud(world):
    prov, reader, engine = world
    report = metering.meter(prov, HOURLY, since=t(6), until=t(8), now=t(13, 5))
    assert [w["kind"] for w in report.windows] == ["backfill", "backfill"]
    assert reader.calls == [] and report.records_new == 0
    assert sorted(windows(engine)) == [t(6), t(7)]
    assert windows(engine)[t(6)].tenants == 0


def test_a_span_already_metered_with_another_window_length_is_refused_unchanged(world):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))
    before = records(engine)
    half = MeteringSettings(window_minutes=30, recompute_windows=3, backfill_max_windows=744)
    with pytest.raises(InputError, match="another length") as info:
        metering.meter(prov, half, since=t(11), until=t(12), now=t(13, 5))
    assert info.value.problems[0].field == "metering.window_minutes"
    assert records(engine) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"until": t(12)}, metering.UNTIL),
        ({"since": t(12), "until": t(11)}, metering.UNTIL),
        ({"since": t(14)}, metering.SINCE),
    ],
)
def test_a_bad_span_is_refused_naming_its_bound(world, kwargs, field):
    prov, reader, engine = world
    with pytest.raises(InputError) as info:
        metering.meter(prov, HOURLY, now=t(13, 5), **kwargs)
    assert info.value.problems[0].field == field
    assert records(engine) == [] and reader.calls == []


def test_a_window_length_off_the_hours_is_refused_naming_the_setting(world):
    prov, reader, engine = world
    with pytest.raises(InputError) as info:
        metering.meter(prov, MeteringSettings(window_minutes=45), now=t(13, 5))
    assert info.value.problems[0].field == "metering.window_minutes"


def test_a_cloud_failure_writes_nothing(world):
    from provisioner.backend import CloudError

    prov, reader, engine = world

    def broken(project: str, metric: str, start: datetime) -> Decimal:
        if start == t(12):
            raise CloudError("reading usage failed: ConnectFailure (HTTP None)", transient=True)
        return steady(project, metric, start)

    reader.quantity = broken
    with pytest.raises(CloudError):
        metering.meter(prov, HOURLY, now=t(13, 5))
    assert records(engine) == [] and windows(engine) == {}


def test_the_upsert_overwrites_by_key_and_keeps_the_larger_cinder_quantity(world):
    """The SQL itself (ON CONFLICT DO UPDATE), as a concurrent cycle would meet it."""
    prov, reader, engine = world

    def row(metric: str, value: str, source: str) -> dict:
        return {
            "pilot_id": "A",
            "metric": metric,
            "window_start": t(10),
            "window_end": t(11),
            "quantity": Decimal(value),
            "source": source,
            "collected_at": t(11, 1),
        }

    for value in ("1.5", "0.25"):
        with session_scope(engine) as session:
            upsert_records(
                session,
                [row("vcpu_hours", value, "nova"), row("volume_gb_hours", value, "cinder")],
            )
    assert quantity(engine, "A", "vcpu_hours", t(10)) == Decimal("0.25")
    assert quantity(engine, "A", "volume_gb_hours", t(10)) == Decimal("1.5")
    assert len(records(engine)) == 2


def test_one_upsert_with_a_key_twice_ends_as_the_rows_upserted_one_by_one(world):
    """A key met again starts a new statement; the rollups follow the records."""
    prov, reader, engine = world

    def row(value: str, source: str, hour: int = 10) -> dict:
        return {
            "pilot_id": "A",
            "metric": "volume_gb_hours",
            "window_start": t(hour),
            "window_end": t(hour + 1),
            "quantity": Decimal(value),
            "source": source,
            "collected_at": t(hour + 1, 1),
        }

    rows = [row("2", "cinder"), row("1", "cinder", 11), row("0.5", "cinder"), row("3", "nova")]
    with session_scope(engine) as session:
        upsert_records(session, rows)
    # 2, then 0.5 from cinder (never lowered: stays 2), then 3 from nova.
    assert quantity(engine, "A", "volume_gb_hours", t(10)) == Decimal("3")
    assert quantity(engine, "A", "volume_gb_hours", t(11)) == Decimal("1")
    assert len(records(engine)) == 2
    with engine.connect() as conn:
        total = conn.execute(
            text(
                "SELECT quantity FROM usage_total WHERE pilot_id = 'A' AND metric = 'volume_gb_hours'"
            )
        ).scalar_one()
    assert Decimal(total) == Decimal("4")


def test_usage_summary_filters_by_tenant_and_span(world):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))
    with session_scope(engine) as session:
        everything = metering.usage_summary(session)
        later = metering.usage_summary(session, since=t(11), until=t(12))
    assert {(r["pilot"], r["metric"]) for r in everything} == {
        (p, m) for p in ("A", "B") for m in METRICS
    }
    assert [r["metric"] for r in everything[:5]] == list(METRICS)  # report order
    a_vcpu = next(r for r in later if r["pilot"] == "A" and r["metric"] == "vcpu_hours")
    assert a_vcpu["quantity"] == Decimal(2) and a_vcpu["windows"] == 1
    assert a_vcpu["from"] == t(11).isoformat() and a_vcpu["until"] == t(12).isoformat()


# ------------------------------------------------------------------------- CLI


def test_cli_usage_lists_stored_usage_as_json_and_table(world, cli):
    prov, reader, engine = world
    metering.meter(prov, HOURLY, now=t(13, 5))
    result = cli("usage", "--tenant", "B", "--json")
    assert result.code == 0, result.err
    rows = result.json()
    assert {r["pilot"] for r in rows} == {"B"}
    volume = next(r for r in rows if r["metric"] == "volume_gb_hours")
    assert volume["quantity"] == "20.000000" and volume["unit"] == "GB-hours"
    table = cli("usage")
    assert table.code == 0 and "vcpu_hours" in table.out and "6.000000" in table.out


def test_cli_meter_refuses_bad_times_with_exit_code_2(world, cli):
    bad = cli("meter", "--since", "yesterday-ish")
    assert bad.code == 2 and "--since" in bad.err and "ISO 8601" in bad.err
    lonely = cli("meter", "--until", "2021-05-10T12:00:00Z")
    assert lonely.code == 2 and "--until needs --since" in lonely.err
    unknown = cli("usage", "--tenant", "NOPE")
    assert unknown.code == 2 and "NOPE" in unknown.err
    backwards = cli("meter", "--since", "2021-05-10T12:00Z", "--until", "2021-05-10T11:00Z")
    assert backwards.code == 2 and "command line: --until = " in backwards.err
    assert "is not after the start" in backwards.err  # the service's domain words, the CLI's option


def test_cli_meter_with_nothing_to_meter_reports_an_empty_cycle(cli):
    result = cli("meter", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["windows_metered"] == 0 and report["records_written"] == 0
