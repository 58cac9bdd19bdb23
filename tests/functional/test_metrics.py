"""``/metrics`` and capacity snapshots on SQLite and PostgreSQL.

The database is seeded directly (tenants, usage, invoices, job runs, step
ledger, snapshots) with values chosen so that every metric has one expected
number; the server from :func:`ngc_pilot.metrics_server.start_metrics_server` is
scraped over HTTP and the exposition parsed with prometheus_client's parser.
``promtool`` (the real one, installed by ``support/prometheus.py`` when missing)
checks the exposition.  Snapshots here read capacity from :class:`Placement`,
a stand-in for the backend's ``capacity()`` with figures set by the test:
these tests are about which tenants count as allocated and how the figures are
stored and exposed; reading the real Placement is tested against devcloud in
``tests/integration/test_prometheus.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from sqlmodel import select
from support.metrics_seed import T0, add_pilots
from support.paths import REPO
from support.prometheus import (
    check_metrics,
    dashboard_exprs,
    ensure_binaries,
    grafana_to_promql,
)

from ngc_pilot import capacity_snapshot, metrics, provisioning
from ngc_pilot.db import make_engine, session_scope
from ngc_pilot.errors import InputError
from ngc_pilot.evaluation_models import EvaluationAnswer, EvaluationResponse, SupportItem
from ngc_pilot.exposition import render
from ngc_pilot.metrics_server import start_metrics_server
from ngc_pilot.models import (
    AuditEvent,
    CapacitySnapshot,
    Invoice,
    JobRun,
    OutboxMessage,
    ProvisionStep,
    Tenant,
    UsageRecord,
)
from ngc_pilot.request_models import ChangeRequest
from policies.evaluation import AREAS
from policies.tenancy import load_tenant_policy
from provisioner.backend import CapacityLine, CloudError
from provisioner.usage import METRICS as METERED

pytestmark = pytest.mark.migrated

GIB = 2**30
MIB = 2**20
DASHBOARD = REPO / "ops" / "grafana" / "ngc-pilot.json"

# pilot -> (tenant state, size, planned end)
TENANTS = {
    "P-ACT": ("active", "small", date(2030, 1, 31)),
    "P-SUS": ("suspended", "medium", date(2029, 6, 30)),
    "P-PRV": ("provisioning", "gpu", date(2029, 12, 1)),
    "P-FLD": ("failed", "small", date(2029, 9, 1)),
    "P-PLN": ("planned", "large", date(2029, 9, 1)),
    "P-TRN": ("torn_down", "small", date(2021, 8, 31)),
}


# ------------------------------------------------------------------------ seeding


def usage(pilot_id: str, metric: str, hour: int, quantity: str) -> UsageRecord:
    start = T0 + timedelta(hours=hour)
    return UsageRecord(
        pilot_id=pilot_id,
        metric=metric,
        window_start=start,
        window_end=start + timedelta(hours=1),
        quantity=Decimal(quantity),
        source="nova",
    )


def invoice(pilot_id: str, month: str, revision: int, listed: str, charged: str) -> Invoice:
    return Invoice(
        pilot_id=pilot_id,
        month=month,
        revision=revision,
        list_total=Decimal(listed),
        discount_total=Decimal(listed) - Decimal(charged),
        charged_total=Decimal(charged),
        rated_by="tests",
    )


def run(job: str, minute: int, status: str, seconds: float | None) -> JobRun:
    started = T0 + timedelta(minutes=minute)
    return JobRun(
        job_id=job,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds) if seconds is not None else None,
        status=status,
        duration_seconds=seconds,
        worker="test:1",
    )


def change_request(pilot_id: str, kind: str, *, days_ago: int, status: str = "pending"):
    return ChangeRequest(
        pilot_id=pilot_id,
        kind=kind,
        value="x",
        justification="t",
        filed_by="t",
        filed_at=datetime.now(UTC) - timedelta(days=days_ago),
        status=status,
    )


def seed(engine) -> None:
    with session_scope(engine) as session:
        add_pilots(session, TENANTS)
    with session_scope(engine) as session:
        session.add_all(
            [
                usage("P-ACT", "vcpu_hours", 0, "1.500000"),
                usage("P-ACT", "vcpu_hours", 1, "2.250000"),
                usage("P-ACT", "vcpu_hours", 2, "0.250000"),
                usage("P-ACT", "ram_gb_hours", 0, "8"),
                usage("P-ACT", "volume_gb_hours", 0, "100"),
                usage("P-PRV", "gpu_hours", 0, "2"),
                usage("P-TRN", "vcpu_hours", 0, "10"),
                usage("P-TRN", "disk_gb_hours", 0, "20"),
                # revisions: only the latest of each month counts
                invoice("P-ACT", "2021-05", 1, "100.00", "0.00"),
                invoice("P-ACT", "2021-05", 2, "120.50", "0.00"),
                invoice("P-ACT", "2021-06", 1, "10.25", "10.25"),
                invoice("P-TRN", "2021-05", 1, "7.00", "7.00"),
                # meter: succeeded, then failed, then skipped (latest result: failed)
                run("meter", 0, "succeeded", 2.0),
                run("meter", 60, "failed", 0.5),
                run("meter", 120, "skipped", 0.0),
                run("capacity", 5, "succeeded", 0.25),
                run("capacity", 10, "running", None),
                ProvisionStep(
                    pilot_id="P-FLD",
                    run_id="r1",
                    step="create network",
                    action="create",
                    resource="network",
                    status="failed",
                    error="HTTP 503",
                ),
                ProvisionStep(
                    pilot_id="P-FLD",
                    run_id="r2",
                    step="create network",
                    action="create",
                    resource="network",
                    status="failed",
                    error="HTTP 503",
                ),
                ProvisionStep(
                    pilot_id="P-FLD",
                    run_id="r2",
                    step="create project",
                    action="create",
                    resource="project",
                    status="done",
                ),
                # change requests: two pending (the older filed four days ago), one decided
                change_request("P-ACT", "extend", days_ago=4),
                change_request("P-SUS", "resize", days_ago=1),
                change_request("P-ACT", "resize", days_ago=9, status="rejected"),
            ]
        )


@pytest.fixture
def engine(database) -> Iterator:
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


@pytest.fixture
def policy():
    return load_tenant_policy()


class Placement:
    """The backend's ``capacity()`` with the figures a test sets (see the module docstring)."""

    def __init__(self) -> None:
        self.lines = [
            CapacityLine("cores", 4000.0, 1000.0, 4.0, reserved=0.0, used=96.0),
            CapacityLine("disk_gb", 580.0, 600.0, 1.0, reserved=20.0, used=40.0),
            CapacityLine("ram_mb", 3_800_000.0, 1_000_000.0, 4.0, reserved=50_000.0, used=65536.0),
        ]

    def capacity(self) -> list[CapacityLine]:
        return list(self.lines)


@pytest.fixture
def placement() -> Placement:
    return Placement()


@pytest.fixture
def prov(engine, policy, tmp_path, placement):
    return provisioning.Provisioner(engine, policy, lambda: placement, "test", tmp_path, "tester")


class Scraper:
    def __init__(self, engine, policy):
        self.server, self.thread = start_metrics_server(engine, policy, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_port}/metrics"

    def text(self) -> str:
        with urllib.request.urlopen(self.url, timeout=30) as reply:
            assert reply.status == 200
            return reply.read().decode()

    def samples(self) -> dict[tuple[str, frozenset], float]:
        out = {}
        for family in text_string_to_metric_families(self.text()):
            for sample in family.samples:
                out[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def scraper(engine, policy) -> Iterator[Scraper]:
    s = Scraper(engine, policy)
    yield s
    s.close()


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


# -------------------------------------------------------------------- snapshots


def test_snapshot_allocates_the_quotas_of_provisioning_active_suspended_and_failed_tenants(
    prov, engine
):
    """The same tenants as the provisioning gate (``tenant_quota``): a failed
    tenant keeps its promise, a planned or torn-down one holds none."""
    seed(engine)
    rows = capacity_snapshot.snapshot(prov, now=T0)
    by_class = {r["resource_class"]: r for r in rows}
    sizes = prov.tenant_policy.sizes
    # P-ACT, P-SUS, P-PRV, P-FLD
    counted = [sizes["small"], sizes["medium"], sizes["gpu"], sizes["small"]]
    assert by_class["VCPU"]["allocated"] == sum(s.cores for s in counted)
    assert by_class["MEMORY_MB"]["allocated"] == sum(s.ram_mb for s in counted)
    assert by_class["DISK_GB"]["allocated"] is None  # no tenant quota limits local disk
    assert by_class["VCPU"]["used"] == 96.0
    assert by_class["MEMORY_MB"]["reserved"] == 50_000.0
    # the effective ratio reproduces what the cloud can allocate
    assert by_class["MEMORY_MB"]["capacity"] == pytest.approx(3_800_000.0)
    assert (1_000_000 - 50_000) * by_class["MEMORY_MB"]["allocation_ratio"] == pytest.approx(
        3_800_000.0
    )
    with session_scope(engine) as session:
        stored = session.exec(select(CapacitySnapshot)).all()
        assert {(r.resource_class, r.taken_at) for r in stored} == {
            ("VCPU", T0),
            ("MEMORY_MB", T0),
            ("DISK_GB", T0),
        }
        assert session.exec(select(AuditEvent)).all() == []  # an observation, not a change


def test_snapshot_refuses_a_tenant_size_the_policy_lacks_and_writes_nothing(prov, engine):
    seed(engine)
    with session_scope(engine) as session:
        tenant = session.get(Tenant, "P-ACT")
        tenant.size = "huge"
        session.add(tenant)
    with pytest.raises(InputError) as error:
        capacity_snapshot.snapshot(prov)
    assert "huge" in str(error.value.problems[0]) and "small" in str(error.value.problems[0])
    with session_scope(engine) as session:
        assert session.exec(select(CapacitySnapshot)).all() == []


def test_a_cloud_failure_writes_no_snapshot(prov, engine, placement):
    seed(engine)

    def unreachable() -> list[CapacityLine]:
        raise CloudError("reading Placement inventory failed: ConnectFailure (HTTP None)")

    placement.capacity = unreachable
    with pytest.raises(CloudError):
        capacity_snapshot.snapshot(prov)
    with session_scope(engine) as session:
        assert session.exec(select(CapacitySnapshot)).all() == []


# ---------------------------------------------------------------------- metrics


def test_scrape_reports_capacity_of_the_latest_snapshot(prov, engine, scraper, placement):
    seed(engine)
    capacity_snapshot.snapshot(prov, now=T0 - timedelta(hours=1))
    placement.lines = [
        CapacityLine("cores", 8000.0, 2000.0, 4.0, reserved=0.0, used=128.0),
        CapacityLine("ram_mb", 4_000_000.0, 1_000_000.0, 4.0, reserved=0.0, used=1024.0),
        CapacityLine("disk_gb", 580.0, 600.0, 1.0, reserved=20.0, used=40.0),
    ]
    capacity_snapshot.snapshot(prov, now=T0)
    s = scraper.samples()
    assert value(s, "ngc_pilot_capacity_snapshot_timestamp_seconds") == T0.timestamp()
    assert value(s, "ngc_pilot_capacity_inventory_vcpus") == 2000.0
    assert value(s, "ngc_pilot_capacity_allocatable_vcpus") == 8000.0
    assert value(s, "ngc_pilot_capacity_used_vcpus") == 128.0
    assert value(s, "ngc_pilot_capacity_allocation_ratio", resource_class="VCPU") == 4.0
    assert value(s, "ngc_pilot_capacity_used_memory_bytes") == 1024.0 * MIB
    assert value(s, "ngc_pilot_capacity_reserved_disk_bytes") == 20.0 * GIB
    assert value(s, "ngc_pilot_capacity_allocatable_disk_bytes") == 580.0 * GIB
    assert value(s, "ngc_pilot_capacity_allocated_disk_bytes") is None
    # what is allocated equals the sum of the quotas the scrape reports per tenant
    quotas = [v for (name, _), v in s.items() if name == "ngc_pilot_tenant_quota_vcpus"]
    assert value(s, "ngc_pilot_capacity_allocated_vcpus") == sum(quotas) == 64 + 256 + 128 + 64
    memory = [v for (name, _), v in s.items() if name == "ngc_pilot_tenant_quota_memory_bytes"]
    assert value(s, "ngc_pilot_capacity_allocated_memory_bytes") == sum(memory)


def test_scrape_reports_tenants_quotas_usage_costs_jobs_and_failures(engine, scraper, policy):
    seed(engine)
    s = scraper.samples()
    assert value(s, "ngc_pilot_database_up") == 1.0
    # tenant state: one sample per tenant, its state
    states = {dict(k)["pilot"]: dict(k)["state"] for (n, k) in s if n == "ngc_pilot_tenant_state"}
    assert states == {pilot: state for pilot, (state, _, _) in TENANTS.items()}
    assert (
        value(s, "ngc_pilot_tenant_state", pilot="P-SUS", platform="openstack", state="suspended")
        == 1.0
    )
    # expiry: access ends at 00:00 UTC after the planned last day; none once torn down
    assert (
        value(s, "ngc_pilot_tenant_expiry_timestamp_seconds", pilot="P-ACT", platform="openstack")
        == datetime(2030, 2, 1, tzinfo=UTC).timestamp()
    )
    assert (
        value(s, "ngc_pilot_tenant_expiry_timestamp_seconds", pilot="P-TRN", platform="openstack")
        is None
    )
    # quotas from the size template, in base units, only for tenants holding them
    medium = policy.sizes["medium"]
    assert (
        value(s, "ngc_pilot_tenant_quota_vcpus", pilot="P-SUS", platform="openstack")
        == medium.cores
    )
    assert (
        value(s, "ngc_pilot_tenant_quota_memory_bytes", pilot="P-SUS", platform="openstack")
        == medium.ram_mb * MIB
    )
    assert (
        value(s, "ngc_pilot_tenant_quota_volume_bytes", pilot="P-SUS", platform="openstack")
        == medium.gigabytes * GIB
    )
    assert (
        value(s, "ngc_pilot_tenant_quota_gpus", pilot="P-PRV", platform="openstack")
        == policy.sizes["gpu"].gpus
    )
    assert (
        value(s, "ngc_pilot_tenant_quota_gpus", pilot="P-SUS", platform="openstack") is None
    )  # not a GPU size
    assert value(s, "ngc_pilot_tenant_quota_vcpus", pilot="P-PLN", platform="openstack") is None
    assert value(s, "ngc_pilot_tenant_quota_vcpus", pilot="P-TRN", platform="openstack") is None
    # usage counters: sums of the records, converted to seconds and bytes
    assert value(s, "ngc_pilot_usage_vcpu_seconds_total", pilot="P-ACT") == 4.0 * 3600
    assert value(s, "ngc_pilot_usage_memory_byte_seconds_total", pilot="P-ACT") == 8 * 3600 * GIB
    assert value(s, "ngc_pilot_usage_volume_byte_seconds_total", pilot="P-ACT") == 100 * 3600 * GIB
    assert value(s, "ngc_pilot_usage_gpu_seconds_total", pilot="P-PRV") == 2 * 3600
    assert value(s, "ngc_pilot_usage_vcpu_seconds_total", pilot="P-TRN") == 10 * 3600
    assert value(s, "ngc_pilot_usage_disk_byte_seconds_total", pilot="P-TRN") == 20 * 3600 * GIB
    assert value(s, "ngc_pilot_usage_gpu_seconds_total", pilot="P-ACT") is None
    # costs: latest revision of each month, summed
    assert value(s, "ngc_pilot_cost_list_dkk", pilot="P-ACT") == 130.75
    assert value(s, "ngc_pilot_cost_charged_dkk", pilot="P-ACT") == 10.25
    assert value(s, "ngc_pilot_cost_list_dkk", pilot="P-TRN") == 7.0
    # jobs
    assert value(s, "ngc_pilot_job_runs_total", job_id="meter", status="failed") == 1.0
    assert value(s, "ngc_pilot_job_runs_total", job_id="meter", status="skipped") == 1.0
    assert (
        value(s, "ngc_pilot_job_last_success_timestamp_seconds", job_id="meter")
        == (T0 + timedelta(seconds=2)).timestamp()
    )
    assert value(s, "ngc_pilot_job_last_duration_seconds", job_id="meter") == 0.5
    assert value(s, "ngc_pilot_job_last_run_succeeded", job_id="meter") == 0.0
    assert value(s, "ngc_pilot_job_last_run_succeeded", job_id="capacity") == 1.0
    assert value(s, "ngc_pilot_job_last_duration_seconds", job_id="capacity") == 0.25
    # provisioning failures
    assert (
        value(s, "ngc_pilot_provision_step_failures_total", pilot="P-FLD", resource="network")
        == 2.0
    )
    assert (
        value(s, "ngc_pilot_provision_step_failures_total", pilot="P-FLD", resource="project")
        is None
    )


def test_utilisation_is_the_latest_windows_average_over_the_quota(engine, scraper, policy):
    seed(engine)
    with session_scope(engine) as session:  # a two-hour window at hour 2, beside P-ACT's
        session.add(
            UsageRecord(
                pilot_id="P-SUS",
                metric="ram_gb_hours",
                window_start=T0 + timedelta(hours=2),
                window_end=T0 + timedelta(hours=4),
                quantity=Decimal("16"),
                source="nova",
            )
        )
        session.add(usage("P-PRV", "gpu_hours", 2, "0.5"))
        session.add(usage("P-TRN", "vcpu_hours", 2, "1"))
    s = scraper.samples()
    name = "ngc_pilot_tenant_utilisation_ratio"
    small, medium, gpu = (policy.sizes[n] for n in ("small", "medium", "gpu"))
    # the latest window (hour 2) only: P-ACT used 0.25 vCPU-hours in one hour
    assert value(s, name, pilot="P-ACT", resource="vcpus") == pytest.approx(0.25 / small.cores)
    assert value(s, name, pilot="P-ACT", resource="memory") is None  # only at hour 0
    # 16 GiB-hours over two hours: 8 GiB held on average, against a quota in MiB
    assert value(s, name, pilot="P-SUS", resource="memory") == pytest.approx(
        8 * 1024 / medium.ram_mb
    )
    assert value(s, name, pilot="P-PRV", resource="gpus") == pytest.approx(0.5 / gpu.gpus)
    assert value(s, name, pilot="P-TRN", resource="vcpus") is None  # torn down: no quota


def test_evaluation_responses_and_open_support_items_per_area(engine, scraper):
    seed(engine)
    with session_scope(engine) as session:
        responses = [
            EvaluationResponse(
                pilot_id=pilot,
                respondent=f"pi@{pilot}",
                questionnaire_version=1,
                questionnaire_digest="0" * 64,
                source="tests",
            )
            for pilot in ("P-ACT", "P-SUS")
        ]
        session.add_all(responses)
        session.flush()
        for response in responses:  # two answers in one area count one response
            session.add(
                EvaluationAnswer(
                    response_id=response.id, question_id="i1", area="infrastructure", score=4
                )
            )
            session.add(
                EvaluationAnswer(
                    response_id=response.id, question_id="i2", area="infrastructure", score=3
                )
            )
        session.add(
            EvaluationAnswer(
                response_id=responses[0].id, question_id="g1", area="governance", score=5
            )
        )
        for area, closed in (
            ("operations", None),
            ("operations", None),
            ("payment", T0),
            ("governance", None),
        ):
            session.add(
                SupportItem(
                    pilot_id="P-ACT",
                    area=area,
                    summary="help",
                    opened_at=T0,
                    opened_by="ops",
                    closed_at=closed,
                )
            )
    s = scraper.samples()
    received = {a: value(s, "ngc_pilot_evaluation_responses", area=a) for a in AREAS}
    assert received == {
        "infrastructure": 2.0,
        "operations": 0.0,
        "application": 0.0,
        "payment": 0.0,
        "governance": 1.0,
    }
    still_open = {a: value(s, "ngc_pilot_support_items_open", area=a) for a in AREAS}
    assert still_open == {
        "infrastructure": 0.0,
        "operations": 2.0,
        "application": 0.0,
        "payment": 0.0,  # closed
        "governance": 1.0,
    }


def test_scrape_reports_pending_change_requests_per_kind_and_the_oldest_ones_age(engine, scraper):
    seed(engine)
    s = scraper.samples()
    assert value(s, "ngc_pilot_change_requests_pending", kind="extend") == 1.0
    assert value(s, "ngc_pilot_change_requests_pending", kind="resize") == 1.0
    assert value(s, "ngc_pilot_change_requests_pending", kind="data_access") == 0.0
    age = value(s, "ngc_pilot_change_request_oldest_pending_age_seconds")
    assert 4 * 86400 <= age < 9 * 86400  # the oldest pending, not the older decided one


def test_every_metered_metric_has_a_usage_counter():
    assert set(metrics.USAGE_METRICS) == set(METERED)


def test_promtool_accepts_the_exposition(engine, prov, scraper):
    seed(engine)
    capacity_snapshot.snapshot(prov)
    text = scraper.text()
    assert "ngc_pilot_usage_vcpu_seconds_total{" in text  # the check sees real samples
    labels = {k for f in text_string_to_metric_families(text) for x in f.samples for k in x.labels}
    assert not labels & {"job", "instance"}  # Prometheus's own target labels
    result = check_metrics(text)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


def test_the_fast_rendering_carries_what_prometheus_client_renders(engine, prov, policy):
    seed(engine)
    capacity_snapshot.snapshot(prov)
    reading = metrics.read(engine)  # one reading for both, so the query timing is the same
    registry = CollectorRegistry()
    registry.register(metrics.PilotCollector(engine, policy, reader=lambda _engine: reading))

    def parsed(text: str) -> list:
        return sorted(
            (
                f.name,
                f.type,
                f.documentation,
                sorted((x.name, sorted(x.labels.items()), x.value) for x in f.samples),
            )
            for f in text_string_to_metric_families(text)
        )

    ours = parsed(render(registry.collect()).decode())
    assert ours == parsed(generate_latest(registry).decode())
    assert sum(len(samples) for *_, samples in ours) > 40
    assert (
        registry.get_sample_value("ngc_pilot_usage_vcpu_seconds_total", {"pilot": "P-ACT"})
        == 4.0 * 3600
    )


def test_a_scrape_costs_the_same_queries_for_6_or_36_tenants(engine, policy):
    """A new server reads everything: one fingerprint query, six global and five
    per-tenant blocks' queries (:mod:`ngc_pilot.metrics_cache`), however many tenants."""
    seed(engine)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    def scrape_count() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            s = Scraper(engine, policy)
            try:
                s.text()
            finally:
                s.close()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len([x for x in statements if x.lstrip().upper().startswith("SELECT")])

    few = scrape_count()
    with session_scope(engine) as session:
        more = {f"Q-{n:02d}": ("active", "small", date(2030, 1, 1)) for n in range(30)}
        add_pilots(session, more)
        session.add_all(usage(p, "vcpu_hours", 0, "1") for p in more)
        session.add_all(invoice(p, "2021-05", 1, "1.00", "0.00") for p in more)
        session.add_all(change_request(p, "extend", days_ago=1) for p in more)
        session.add_all(
            OutboxMessage(
                key=f"k:{p}",
                pilot_id=p,
                kind="tenant_ready",
                recipient="pi@example.org",
                subject="s",
                body="b",
                status=status,
            )
            for p, status in zip(more, ["queued", "sent", "failed"] * 10, strict=True)
        )
    assert scrape_count() == few == 12


def test_an_unreadable_database_gives_database_up_0_not_an_error(tmp_path, policy):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables
    s = Scraper(engine, policy)
    try:
        samples = s.samples()
    finally:
        s.close()
        engine.dispose()
    assert samples == {("ngc_pilot_database_up", frozenset()): 0.0}


# ------------------------------------------------------------------ usage totals


def totals(engine) -> dict[tuple[str, str], Decimal]:
    """``usage_total`` and the records' sums side by side (zero totals dropped)."""
    with engine.connect() as conn:
        kept = {
            (p, m): Decimal(q).quantize(Decimal("0.000001"))
            for p, m, q in conn.execute(metrics.usage_query())
            if q
        }
        summed = {
            (p, m): Decimal(q).quantize(Decimal("0.000001"))
            for p, m, q in conn.execute(metrics.usage_summed_query())
            if q
        }
    assert kept == summed
    return kept


def test_usage_total_follows_every_write_to_the_usage_records(engine, database):
    """Inserts, metering's own upserts (both paths), updates, deletes, truncate."""
    from ngc_pilot.usage_upsert import upsert_records

    seed(engine)
    assert totals(engine)[("P-ACT", "vcpu_hours")] == Decimal("4")

    def row(pilot: str, metric: str, hour: int, quantity: str, source: str = "nova") -> dict:
        start = T0 + timedelta(hours=hour)
        return {
            "pilot_id": pilot,
            "metric": metric,
            "window_start": start,
            "window_end": start + timedelta(hours=1),
            "quantity": Decimal(quantity),
            "source": source,
            "collected_at": T0,
        }

    with session_scope(engine) as session:
        upsert_records(
            session,
            [
                row("P-ACT", "vcpu_hours", 1, "5.25"),  # was 2.25: recomputed
                row("P-ACT", "vcpu_hours", 9, "1.000001"),  # new window
                row("P-ACT", "volume_gb_hours", 0, "40"),  # was 100: recomputed lower
                row("P-SUS", "gpu_hours", 3, "0.5"),  # a tenant's first record
            ],
        )
    assert totals(engine)[("P-ACT", "vcpu_hours")] == Decimal("8.000001")
    assert totals(engine)[("P-ACT", "volume_gb_hours")] == Decimal("40")
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            UsageRecord.__table__.update()
            .where(UsageRecord.__table__.c.pilot_id == "P-TRN")
            .values(quantity=UsageRecord.__table__.c.quantity * 2)
        )
    assert totals(engine)[("P-TRN", "vcpu_hours")] == Decimal("20")
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            UsageRecord.__table__.delete().where(UsageRecord.__table__.c.metric == "vcpu_hours")
        )
    assert ("P-ACT", "vcpu_hours") not in totals(engine)
    if database.backend == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE usage_record")
        assert totals(engine) == {}


# -------------------------------------------------------------------- dashboard


def test_dashboard_uses_a_prometheus_datasource_variable():
    board = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p.get("type") != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_dashboard_query_names_metrics_that_a_scrape_serves(engine, prov, scraper):
    seed(engine)
    capacity_snapshot.snapshot(prov)
    served = {
        sample.name
        for family in text_string_to_metric_families(scraper.text())
        for sample in family.samples
    }
    exprs = dashboard_exprs(DASHBOARD)
    assert len(exprs) >= 12
    used = {name for expr in exprs for name in re.findall(r"\bngc_pilot_[a-z0-9_]+", expr)}
    assert used - served == set()


def test_every_dashboard_query_parses_as_promql(tmp_path):
    """promtool parses each expression as a recording rule (Grafana's variables filled in)."""
    _, promtool = ensure_binaries()
    rules = [
        {"record": f"ngc_pilot:dashboard_{n}", "expr": grafana_to_promql(expr)}
        for n, expr in enumerate(dashboard_exprs(DASHBOARD))
    ]
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [str(promtool), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
