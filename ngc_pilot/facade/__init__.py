"""The service facade: the application's services as one object any interface can call.

:class:`Services` is one transaction per method over the service modules
(intake, selection, provisioning, billing, jobs, ...), returning frozen,
already-loaded views.  The TUI's screens read and change data only through
it; the scheduler's jobs come into it through a :class:`JobsPort` that the
interface hands in; the CLI's commands call it through
``AppContext.services``.  It is split by area: :mod:`.applications`
(intake, selection, pilots, audit), :mod:`.capacity`, :mod:`.tenants` (for a
screen) and :mod:`.tenant_batches` (for a batch interface, with the
lifecycle rules), :mod:`.usage` (metering, invoices), :mod:`.records`
(evaluation, support, milestones), :mod:`.members`, :mod:`.requests`,
:mod:`.mail` (the outbox, statements), :mod:`.jobs` and :mod:`.reports`; :mod:`.base` holds what
they share and :mod:`.fields` the domain's field names an interface words as
its own.  Nothing here knows about
Click, Textual or APScheduler, and no method words an error for a particular
interface: problems name the domain's fields, each interface words them for
its user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ngc_pilot.billing import InvoiceDoc, WhatIf
from ngc_pilot.facade.applications import (
    FORM_SOURCE,
    ApplicationRow,
    ApplicationsArea,
    DecisionView,
    ProposalView,
)
from ngc_pilot.facade.base import cloud_errors, database_label
from ngc_pilot.facade.capacity import CapacityArea, CapacityOverview
from ngc_pilot.facade.jobs import (
    JobRow,
    JobsArea,
    JobsOverview,
    JobsPort,
    ManualRun,
    RunOutcome,
    RunView,
)
from ngc_pilot.facade.mail import MailArea
from ngc_pilot.facade.members import MemberChange, MembersArea
from ngc_pilot.facade.records import RecordsArea
from ngc_pilot.facade.reports import EvaluationOverview, ReadableReport, ReportsArea
from ngc_pilot.facade.requests import RequestDecision, RequestRow, RequestsArea
from ngc_pilot.facade.tenant_batches import TenantBatchesArea
from ngc_pilot.facade.tenants import (
    EnvironmentView,
    PlanView,
    Probe,
    Progress,
    StepView,
    TeardownView,
    TenantDetail,
    TenantOutcome,
    TenantRow,
    TenantsArea,
    TenantsOverview,
)
from ngc_pilot.facade.usage import UsageArea, UsageMonth, UsageTenant, WhatIfView
from ngc_pilot.metering import MeterReport
from ngc_pilot.provisioning import TeardownOutcome
from ngc_pilot.selection import Assessed

if TYPE_CHECKING:
    from ngc_pilot.application import Application
    from ngc_pilot.settings import Settings

__all__ = [
    "FORM_SOURCE",
    "ApplicationRow",
    "Assessed",
    "CapacityOverview",
    "DecisionView",
    "EnvironmentView",
    "EvaluationOverview",
    "ReadableReport",
    "InvoiceDoc",
    "JobRow",
    "JobsOverview",
    "JobsPort",
    "ManualRun",
    "MemberChange",
    "MeterReport",
    "PlanView",
    "Probe",
    "Progress",
    "ProposalView",
    "RequestDecision",
    "RequestRow",
    "RunOutcome",
    "RunView",
    "Services",
    "StepView",
    "TeardownOutcome",
    "TeardownView",
    "TenantDetail",
    "TenantOutcome",
    "TenantRow",
    "TenantsOverview",
    "UsageMonth",
    "UsageTenant",
    "WhatIf",
    "WhatIfView",
    "cloud_errors",
    "database_label",
]


@dataclass
class Services(
    ApplicationsArea,
    CapacityArea,
    TenantsArea,
    TenantBatchesArea,
    MembersArea,
    RequestsArea,
    MailArea,
    UsageArea,
    RecordsArea,
    JobsArea,
    ReportsArea,
):
    """Every area of the facade on one engine, policy and actor."""

    @classmethod
    def from_application(cls, app: Application, *, jobs: JobsPort | None = None) -> Services:
        """Build from an application context: migrates an empty database, loads the policy."""
        settings = app.settings
        return cls(
            engine=app.engine,
            policy=app.policy,
            actor=app.actor,
            database_label=database_label(settings.database_url),
            error_log=settings.var_dir / "tui-errors.log",
            provisioner=app.provisioner,
            cloud_label=settings.cloud.name
            + (f" ({settings.cloud.clouds_file})" if settings.cloud.clouds_file else ""),
            parallel=settings.provisioning.parallel,
            settings=settings,
            jobs_port=jobs,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, jobs: JobsPort | None = None) -> Services:
        from ngc_pilot.application import Application

        return cls.from_application(Application(settings), jobs=jobs)
