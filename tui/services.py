"""The TUI's one door into ngc-pilot's service layer.

Screens never open sessions or call SQL themselves: they call these methods
from a worker thread and get plain, already-loaded objects back.  Each method
is one transaction (``session_scope``), calls the same service functions as
the CLI (``intake``, ``selection``, ``audit``, ``views``, ``billing``,
``jobs``) and returns frozen view objects, so nothing lazy-loads later on the
UI thread.  Nothing here knows about Textual; it is equally usable from the
tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ngc_pilot import (
    audit,
    billing,
    intake,
    job_history,
    provisioning,
    selection,
    usage_views,
    views,
)
from ngc_pilot.cli.context import AppContext
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.errors import InputError, PermanentError, TransientError
from ngc_pilot.jobs import JobInfo, job_status
from ngc_pilot.models import Application, JobRun, SelectionDecision
from ngc_pilot.provisioning import Provisioner, TeardownOutcome, TenantOutcome
from ngc_pilot.settings import Settings
from policies.nomination import Nomination
from policies.prices import PriceList, load_prices
from policies.problems import InputProblems, Problem, problems_from_validation
from policies.selection_policy import SelectionPolicy
from provisioner.backend import CloudError, Probe

FORM_SOURCE = "form"

# A provisioning progress report, from a worker thread: (pilot, step, index, total).
Progress = Callable[[str, str, int, int], None]


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


@dataclass(frozen=True)
class TenantRow:
    """One pilot as the Tenants screen lists it: the pilot, and its tenant if it has one."""

    pilot_id: str
    name: str
    institution: str
    pilot_state: str  # selected | withdrawn
    planned_start: date
    planned_end: date
    waiting_for_agreement: bool  # selected, but the data processing agreement is not signed
    tenant_state: str | None = None  # None: no tenant yet; else planned|provisioning|active|...
    size: str | None = None
    project: str | None = None
    project_id: str | None = None
    cidr: str | None = None
    environment: str | None = None
    last_error: str | None = None
    updated_at: str | None = None

    @property
    def status(self) -> str:
        """What operations should read first: the tenant's state, or why there is none."""
        if self.tenant_state is not None:
            return self.tenant_state
        if self.pilot_state == "withdrawn":
            return "withdrawn"
        if self.waiting_for_agreement:
            return "waiting for agreement"
        return "not provisioned"


@dataclass(frozen=True)
class TenantsOverview:
    rows: tuple[TenantRow, ...]
    waiting: tuple[str, ...]  # pilots that get no tenant until their agreement is signed
    cloud: str  # the clouds.yaml entry acted as, and from which file

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.status] = out.get(row.status, 0) + 1
        return out


@dataclass(frozen=True)
class StepView:
    run: str
    step: str
    status: str  # done | failed
    resource_id: str | None
    error: str | None
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class EnvironmentView:
    """Where a researcher bundle is and what it holds; never the secret itself."""

    path: str
    exists: bool
    mode: str | None
    files: tuple[tuple[str, str, int], ...]  # (name, mode, bytes)
    credential_id: str | None
    facts: dict[str, Any]  # environment.json (holds no secret)


@dataclass(frozen=True)
class TenantDetail:
    pilot_id: str
    tenant: dict[str, Any] | None  # ``provisioning.tenant_detail`` without its steps; None: none
    quotas: dict[str, int]
    steps: tuple[StepView, ...]
    environment: EnvironmentView


@dataclass(frozen=True)
class PlanView:
    """The changes applying would make to one pilot's tenant (nothing is changed)."""

    pilot_id: str
    state: str
    changes: tuple[dict[str, Any], ...]  # Change.as_dict(): action, resource, name, detail


@dataclass(frozen=True)
class UsageTenant:
    """One tenant in a month: its metered totals and its latest shadow invoice (if rated)."""

    pilot_id: str
    name: str
    tenant_state: str | None  # None: no tenant row (only usage or an invoice)
    usage: dict[str, Decimal]  # metric -> total quantity in the month
    invoice: billing.InvoiceDoc | None


@dataclass(frozen=True)
class UsageMonth:
    """What the Usage & billing screen shows for a month, and what is missing."""

    month: str
    tenants: tuple[UsageTenant, ...]
    span: usage_views.DataSpan
    currency: str
    prices_source: str  # the price list invoices are rated with now
    discount: str  # the price list's pilot discount, in words ("" if it has none)
    prices_problem: str | None = None  # why the price list cannot be read (nothing rates then)

    @property
    def invoices(self) -> tuple[billing.InvoiceDoc, ...]:
        return tuple(t.invoice for t in self.tenants if t.invoice is not None)

    @property
    def metered(self) -> bool:
        return any(t.usage for t in self.tenants)

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """(list, discount, charged) over the month's invoices."""
        docs = self.invoices
        return (
            sum((d.list_total for d in docs), Decimal("0.00")),
            sum((d.discount_total for d in docs), Decimal("0.00")),
            sum((d.charged_total for d in docs), Decimal("0.00")),
        )


@dataclass(frozen=True)
class WhatIfView:
    """The month's usage priced with the current and another price list (nothing written)."""

    month: str
    current_source: str
    other_source: str
    currency: str
    other_currency: str
    rows: tuple[billing.WhatIf, ...]

    def totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        """field -> (current, other) summed over tenants: list, discount, charged."""
        out = {}
        for name in ("list_total", "discount_total", "charged_total"):
            out[name] = (
                sum((getattr(r.current, name) for r in self.rows), Decimal("0.00")),
                sum((getattr(r.other, name) for r in self.rows), Decimal("0.00")),
            )
        return out


@dataclass(frozen=True)
class RunView:
    """One ``job_run`` row: an attempt (or a skipped fire time) of a job."""

    id: int
    job_id: str
    status: str  # running | succeeded | failed | skipped
    attempt: int
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None
    summary: dict[str, Any]
    worker: str


@dataclass(frozen=True)
class JobRow:
    """One scheduler job with its last run, last success and failures since."""

    job_id: str
    schedule: str
    description: str
    scheduled: bool  # in the job store: ``serve`` has run with it
    next_run: datetime | None
    last_run: RunView | None
    last_success: RunView | None
    failures_since_success: int

    @property
    def healthy(self) -> bool:
        return self.last_run is None or self.last_run.status in ("succeeded", "running")


@dataclass(frozen=True)
class JobsOverview:
    rows: tuple[JobRow, ...]
    at: datetime  # when it was read (UTC): "next run in …" counts from here


@dataclass(frozen=True)
class RunOutcome:
    job_id: str
    status: str  # succeeded | failed | skipped
    attempts: int
    error: str | None
    summary: dict[str, Any]


@dataclass
class Services:
    engine: Engine
    policy: SelectionPolicy
    actor: str
    database_label: str = field(default="")
    error_log: Path | None = None  # where unexpected errors' tracebacks go
    provisioner: Callable[[], Provisioner] | None = None  # None: no cloud configured
    cloud_label: str = ""
    parallel: int = 4  # tenants provisioned at once by "apply all"
    settings: Settings | None = None  # jobs' schedules, the price list; None: the defaults

    @classmethod
    def from_context(cls, context: AppContext) -> Services:
        """Build from the CLI's context: migrates an empty database, loads the policy."""
        settings = context.settings
        return cls(
            engine=context.engine,
            policy=context.policy,
            actor=context.actor,
            database_label=database_label(settings.database_url),
            error_log=settings.var_dir / "tui-errors.log",
            provisioner=context.provisioner,
            cloud_label=settings.cloud.name
            + (f" ({settings.cloud.clouds_file})" if settings.cloud.clouds_file else ""),
            parallel=settings.provisioning.parallel,
            settings=settings,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls.from_context(AppContext(settings))

    # ----------------------------------------------------------- applications

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
        with session_scope(self.engine) as session:
            return intake.import_files(session, list(paths), self.policy, actor=self.actor)

    # -------------------------------------------------------------- selection

    def propose(self, options: selection.SelectOptions) -> ProposalView:
        with session_scope(self.engine) as session:
            fingerprint = views.applications_fingerprint(session)
            proposal = selection.propose(session, self.policy, options)
        coverage = selection.coverage_matrix(proposal) if proposal.result.feasible else {}
        return ProposalView(proposal, proposal.as_dict(), coverage, fingerprint)

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

    # ------------------------------------------------- pilots, capacity, audit

    def pilots(self) -> list[views.PilotView]:
        with session_scope(self.engine) as session:
            return views.pilots(session)

    def capacity(self) -> views.CapacityTimeline:
        with session_scope(self.engine) as session:
            return views.capacity_timeline(session, self.policy)

    def audit_events(self) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return [audit.as_dict(e) for e in audit.events(session)]

    # ---------------------------------------------------------------- tenants

    def _prov(self) -> Provisioner:
        if self.provisioner is None:
            raise InputError("no cloud is configured for this session")
        return self.provisioner()

    def tenants(self) -> TenantsOverview:
        """Every pilot with its tenant (if any), and who waits for a signed agreement."""
        with session_scope(self.engine) as session:
            pilots = views.pilots(session)
            tenants = {t["pilot"]: t for t in provisioning.tenants(session)}
            waiting = tuple(provisioning.waiting_for_agreement(session))
        rows = []
        for p in sorted(pilots, key=lambda p: p.id):
            t = tenants.get(p.id, {})
            rows.append(
                TenantRow(
                    pilot_id=p.id,
                    name=p.name,
                    institution=p.institution,
                    pilot_state=p.state,
                    planned_start=p.planned_start,
                    planned_end=p.planned_end,
                    waiting_for_agreement=p.id in waiting,
                    tenant_state=t.get("state"),
                    size=t.get("size"),
                    project=t.get("project"),
                    project_id=t.get("project_id"),
                    cidr=t.get("cidr"),
                    environment=t.get("environment"),
                    last_error=t.get("last_error"),
                    updated_at=t.get("updated_at"),
                )
            )
        return TenantsOverview(tuple(rows), waiting, self.cloud_label)

    def tenant_detail(self, pilot_id: str) -> TenantDetail:
        """The tenant's facts, quotas and step ledger, and its researcher environment."""
        prov = self._prov()
        with session_scope(self.engine) as session:
            try:
                row = provisioning.tenant_detail(session, prov, pilot_id)
            except InputError:  # no tenant (yet): only the environment location to show
                row = None
        info = provisioning.environment_info(prov, pilot_id)
        credential = info.get("credential") or {}
        environment = EnvironmentView(
            path=str(info["path"]),
            exists=bool(info["exists"]),
            mode=info.get("mode"),
            files=tuple(
                (name, str(meta["mode"]), int(meta["bytes"]))
                for name, meta in info.get("files", {}).items()
            ),
            credential_id=credential.get("id"),  # the secret is deliberately not copied
            facts=dict(info.get("environment") or {}),
        )
        if row is None:
            return TenantDetail(pilot_id, None, {}, (), environment)
        steps = tuple(
            StepView(s["run"], s["step"], s["status"], s["resource_id"], s["error"], s["at"])
            for s in row.pop("steps")
        )
        quotas = dict(row.pop("quotas"))
        return TenantDetail(pilot_id, row, quotas, steps, environment)

    def plan(self, pilot_id: str) -> PlanView:
        """What applying would change for the pilot's tenant (reads the cloud, changes nothing)."""
        with _cloud_errors():
            [outcome] = provisioning.plan_pilots(self._prov(), [pilot_id])
        return PlanView(outcome.pilot_id, outcome.state, tuple(outcome.plan))

    def provision(
        self, pilot_ids: Sequence[str] = (), *, progress: Progress | None = None
    ) -> list[TenantOutcome]:
        """Create or converge the tenants (every selected pilot with a signed agreement if none
        is named); ``progress`` is called from worker threads after each step."""
        with _cloud_errors():
            return provisioning.provision(
                self._prov(), list(pilot_ids), parallel=self.parallel, progress=progress
            )

    def teardown(self, pilot_id: str) -> TeardownOutcome:
        with _cloud_errors():
            return provisioning.teardown(
                self._prov(), pilot_id, reason=f"confirmed in the TUI by {self.actor}"
            )

    def verify(self) -> list[Probe]:
        """Each active tenant, with its own credential, probes every other one."""
        with _cloud_errors():
            return provisioning.verify(self._prov())

    # ------------------------------------------------------- usage & billing

    def prices(self, path: Path | None = None) -> PriceList:
        """The price list at ``path``, or the configured one (the shipped file if none)."""
        configured = self.settings.policy.prices_file if self.settings else None
        target = path if path is not None else configured
        try:
            return load_prices(target)
        except InputProblems as exc:
            raise InputError(exc.problems) from exc

    def usage_month(self, month: str | None = None) -> UsageMonth:
        """Every tenant of ``month`` (default: the latest with usage or invoices, else this
        month) with its metered totals and latest invoice revision; rates nothing."""
        try:
            prices: PriceList | None = self.prices()
            problem = None
        except InputError as exc:  # the stored usage and invoices are still worth showing
            prices, problem = None, "; ".join(str(p) for p in exc.problems)
        with session_scope(self.engine) as session:
            span = usage_views.data_span(session)
            label = month or span.latest_month or utcnow().strftime("%Y-%m")
            m = billing.parse_month(label, "month")
            usage = usage_views.month_usage(session, m)
            tenants = usage_views.month_tenants(session, m, usage)
            docs = {d.pilot_id: d for d in billing.invoices(session, str(m))}
        rows = tuple(
            UsageTenant(
                t.pilot_id, t.name, t.tenant_state, usage.get(t.pilot_id, {}), docs.get(t.pilot_id)
            )
            for t in tenants
        )
        pilot = prices.discounts.pilot if prices is not None else None
        discount = (
            f"pilot discount {pilot.percent.normalize():f} % "
            f"{pilot.from_} → {pilot.until - timedelta(days=1)}"
            if pilot is not None
            else ""
        )
        currency = (
            prices.currency if prices is not None else next((d.currency for d in docs.values()), "")
        )
        source = (prices.source if prices is not None else None) or str(
            (self.settings.policy.prices_file if self.settings else None) or "prices.yaml"
        )
        return UsageMonth(str(m), rows, span, currency, source, discount, problem)

    def usage_series(self, pilot_id: str, month: str) -> usage_views.UsageSeries:
        with session_scope(self.engine) as session:
            return usage_views.usage_series(session, pilot_id, billing.parse_month(month, "month"))

    def rate_month(self, month: str) -> list[billing.InvoiceDoc]:
        """Rate ``month`` with the configured price list (a new revision only where something
        changed; audited); a changed price that invoices already used is refused."""
        return billing.rate_month(self.engine, self.prices(), month, actor=self.actor)

    def what_if(self, month: str, other: Path) -> WhatIfView:
        """The month's usage priced with the configured list and with ``other``; writes nothing."""
        current = self.prices()
        alternative = self.prices(other)
        rows = billing.what_if(self.engine, month, current, alternative)
        return WhatIfView(
            str(billing.parse_month(month, "month")),
            current.source or "prices.yaml",
            alternative.source or str(other),
            current.currency,
            alternative.currency,
            tuple(rows),
        )

    # ------------------------------------------------------------------- jobs

    def _registry(self) -> dict[str, Any]:
        from ngc_pilot.settings import ServiceSettings
        from scheduler.registry import build_registry  # APScheduler: only when jobs are shown

        return build_registry(self.settings.service if self.settings else ServiceSettings())

    def jobs(self) -> JobsOverview:
        """Every job of the registry and the job store: schedule, last run, next run."""
        info = {
            job.id: JobInfo(schedule=job.schedule, description=job.description)
            for job in self._registry().values()
        }
        with session_scope(self.engine) as session:
            statuses = job_status(session, info)
            rows = tuple(
                JobRow(
                    job_id=s.job_id,
                    schedule=s.schedule,
                    description=s.description,
                    scheduled=s.scheduled,
                    next_run=s.next_run,
                    last_run=_run_view(s.last_run) if s.last_run else None,
                    last_success=_run_view(s.last_success) if s.last_success else None,
                    failures_since_success=s.failures_since_success,
                )
                for s in statuses
            )
        return JobsOverview(rows, utcnow())

    def job_runs(self, job_id: str, limit: int = job_history.RECENT) -> tuple[RunView, ...]:
        """The job's recent runs, newest first (every attempt, failure and skip)."""
        with session_scope(self.engine) as session:
            return tuple(_run_view(r) for r in job_history.recent_runs(session, job_id, limit))

    def run_job(self, job_id: str) -> RunOutcome:
        """Run one job now, recorded like a scheduled run and audited, as ``ngc-pilot jobs
        run`` does (no retries: a failure is shown, the next scheduled run retries)."""
        from scheduler import runner
        from scheduler.registry import lookup

        if self.settings is None:
            raise InputError("running a job needs the settings; start the TUI with ngc-pilot tui")
        context = runner.RunnerContext(
            settings=self.settings,
            engine=self.engine,
            registry=self._registry(),
            provisioner_factory=self._prov,
        )
        lookup(context.registry, job_id)
        outcome = runner.run(context, job_id, retries=0, worker=f"{context.worker}/tui")
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=self.actor,
                action="job.run",
                subject=job_id,
                reason=f"run by hand in the TUI by {self.actor}",
                details={"status": outcome.status, "attempts": outcome.attempts},
            )
        return RunOutcome(
            job_id, outcome.status, outcome.attempts, outcome.error, dict(outcome.summary)
        )


def _run_view(run: JobRun) -> RunView:
    return RunView(
        id=run.id or 0,
        job_id=run.job_id,
        status=run.status,
        attempt=run.attempt,
        scheduled_for=run.scheduled_for,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=run.duration_seconds,
        error=run.error,
        summary=dict(run.summary or {}),
        worker=run.worker,
    )


@contextmanager
def _cloud_errors() -> Iterator[None]:
    """A cloud failure as ngc-pilot's own error: transient (retry may help) or permanent."""
    try:
        yield
    except CloudError as exc:
        if exc.transient:
            raise TransientError(f"the cloud did not answer: {exc}") from exc
        raise PermanentError(f"the cloud refused: {exc}") from exc


def _decision_view(decision: SelectionDecision) -> DecisionView:
    return DecisionView(
        id=decision.id or 0,
        decided_by=decision.decided_by,
        reason=decision.reason,
        selected=tuple(decision.selected),
        objective=decision.objective,
        optimal=decision.optimal,
    )


def database_label(url: str) -> str:
    """The database URL as shown on screen: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL fails later, with the engine's own message
        return url
