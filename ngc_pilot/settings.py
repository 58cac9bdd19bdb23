"""One settings object, built once at the entry point and passed down.

Sources, lowest to highest priority: defaults here, the OpenStack client
conventions for the cloud group (``OS_CLIENT_CONFIG_FILE`` locates
``clouds.yaml``, ``OS_CLOUD`` names the entry — what every OpenStack tool
honours), an optional TOML file (``--config FILE`` or ``NGC_PILOT_CONFIG``),
``NGC_PILOT_*`` environment variables (nested groups with ``__``, e.g.
``NGC_PILOT_DATABASE__URL``; the database URL also as
``NGC_PILOT_DATABASE_URL``), then command-line options.  Nothing reads
settings at import time.

Deliberately not read: credentials in ``OS_USERNAME``, ``OS_PASSWORD``,
``OS_AUTH_URL`` and the like.  The identity ngc-pilot acts as comes from the
chosen ``clouds.yaml`` entry only (the backend loads it with
``load_envvars=False``), so a researcher's or another admin's exported
credentials can never change who acts.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class DatabaseSettings(BaseModel):
    url: str = Field(
        default="",
        description=(
            "SQLAlchemy URL. Empty means SQLite at <var_dir>/ngc-pilot.db: embedded, zero set-up, "
            "right for one operator; use postgresql+psycopg://... for a shared service."
        ),
    )
    echo: bool = Field(default=False, description="Log SQL statements (debugging only).")


class PolicySettings(BaseModel):
    selection_file: Path | None = Field(
        default=None,
        description="Selection policy YAML; empty means the shipped policies/selection.yaml.",
    )
    prices_file: Path | None = Field(
        default=None,
        description="Price list (YAML); empty means the shipped policies/prices.yaml.",
    )
    lifecycle_file: Path | None = Field(
        default=None,
        description="Expiry, data-access and drift-repair rules (YAML); empty means the shipped policies/lifecycle.yaml.",
    )
    tenant_file: Path | None = Field(
        default=None,
        description="Tenant sizes and tenancy YAML; empty means the shipped policies/tenant_sizes.yaml.",
    )


class CloudSettings(BaseModel):
    name: str = Field(
        default="devcloud",
        description=(
            "The clouds.yaml entry ngc-pilot acts as (an admin of the pilot's cloud); "
            "OS_CLOUD when set, as for every OpenStack tool, else devcloud (the local test cloud)."
        ),
    )
    clouds_file: Path | None = Field(
        default=None,
        description=(
            "clouds.yaml to read; OS_CLIENT_CONFIG_FILE when set, else the standard search path. "
            "Credentials in OS_USERNAME-style variables never change which identity ngc-pilot uses."
        ),
    )


class KubernetesSettings(BaseModel):
    kubeconfig: Path | None = Field(
        default=None,
        description=(
            "The kubeconfig ngc-pilot acts with on the Kubernetes cluster (an admin of it); "
            "never $KUBECONFIG or ~/.kube/config implicitly. Empty: no Kubernetes platform, "
            "every pilot gets OpenStack only."
        ),
    )
    context: str | None = Field(
        default=None, description="The kubeconfig context to use; empty: its current context."
    )


class ProvisioningSettings(BaseModel):
    parallel: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Tenants provisioned at once; each holds one API connection.",
    )
    environments_dir: Path | None = Field(
        default=None,
        description="Where researcher bundles are written; empty means <var_dir>/environments.",
    )


class MeteringSettings(BaseModel):
    window_minutes: int = Field(
        default=60,
        ge=1,
        le=1440,
        description="Length of a usage window; windows are aligned to the hour (or the day).",
    )
    recompute_windows: int = Field(
        default=3,
        ge=0,
        le=48,
        description="The last windows recomputed on every cycle, to absorb late data.",
    )
    backfill_max_windows: int = Field(
        default=24 * 31,
        ge=1,
        description="At most this many missed windows are backfilled in one cycle.",
    )


class ServiceSettings(BaseModel):
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address `serve` exposes /metrics on (loopback by default).",
    )
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="Port of /metrics.")
    meter_minutes: int = Field(default=60, ge=1, description="How often the meter job runs.")
    capacity_minutes: int = Field(
        default=5, ge=1, description="How often Placement's capacity is snapshotted."
    )
    reconcile_minutes: int = Field(default=60, ge=1, description="How often drift is checked.")
    daily_at: str = Field(
        default="02:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time (HH:MM) of the daily jobs: expiry and the data-access switch.",
    )
    mail_minutes: int = Field(
        default=1, ge=1, description="How often the mail job sends the outbox."
    )
    tenants_per_item: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description=(
            "Tenants per work item that serve replicas claim (metering: per window; reconcile): "
            "small enough that two replicas share 1,000 tenants in ten pieces, large enough "
            "that a window costs few usage calls."
        ),
    )
    claim_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description=(
            "Seconds (1 to 3600) a replica's claim on a work item lasts unless renewed; the "
            "holder renews it every third of this while the item runs, so a replica killed "
            "with SIGKILL frees its items within this long. 60 s: short enough that a dead "
            "replica's share is taken over within a minute, long enough that a renewal late by "
            "a slow database round trip or a GC pause does not lose the claim."
        ),
    )
    claim_poll_seconds: float = Field(
        default=2.0,
        ge=0.1,
        le=600,
        description=(
            "Seconds (0.1 to 600) a replica with nothing to claim waits before looking again; "
            "2 s: an idle replica costs one small query per 2 s and a new cycle's items are "
            "shared within that."
        ),
    )
    lock_file: Path | None = Field(
        default=None,
        description="Job lock on SQLite; empty means <var_dir>/serve.lock. PostgreSQL uses advisory locks.",
    )


class ReportSettings(BaseModel):
    dir: Path | None = Field(
        default=None,
        description=(
            "Where the monthly steering-group report is written; empty means <var_dir>/reports "
            "(var/reports by default), beside the rest of the local state."
        ),
    )
    recipients: list[str] = Field(
        default_factory=list,
        description=(
            "The steering group's e-mail addresses the monthly report is for; empty by default, "
            "so that nothing is sent before someone names the group."
        ),
    )
    language: Literal["da", "en"] = Field(
        default="da",
        description="Language of the scheduled report: da (the steering group works in Danish) or en.",
    )


class MailSettings(BaseModel):
    smtp_host: str = Field(
        default="127.0.0.1",
        description="SMTP server the outbox is sent through (loopback: a local MTA relays).",
    )
    smtp_port: int = Field(
        default=25, ge=1, le=65535, description="Its port (25, or 587 for submission)."
    )
    starttls: bool = Field(
        default=False,
        description="Upgrade the connection with STARTTLS before logging in (needed off loopback).",
    )
    username: str = Field(default="", description="SMTP login; empty means no login.")
    password: SecretStr = Field(
        default=SecretStr(""),
        description="SMTP password; a secret: never logged, printed or stored (env NGC_PILOT_MAIL__PASSWORD).",
    )
    sender: str = Field(
        default="ngc-pilot@localhost",
        description="From address; its domain also names the Message-IDs.",
    )
    timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long one SMTP exchange may take before it is a failure.",
    )
    batch: int = Field(
        default=50, ge=1, le=1000, description="Messages claimed at once by one sender."
    )
    hand_over: int = Field(
        default=20,
        ge=1,
        le=1000,
        description=(
            "Messages marked as being handed to the server, and then confirmed, in one commit "
            "(at most ``batch``): a sender killed mid-run leaves at most this many in doubt "
            "(never re-sent on their own); 1 is the strictest and slowest."
        ),
    )
    max_attempts: int = Field(
        default=6, ge=1, le=50, description="Attempts before a message is failed for good."
    )
    backoff_seconds: float = Field(
        default=60.0, ge=0, description="Wait before the first retry; doubles per attempt."
    )
    backoff_max_seconds: float = Field(
        default=3600.0, ge=0, description="Longest wait between two attempts."
    )
    in_doubt_seconds: float = Field(
        default=900.0,
        ge=0,
        description=(
            "A message claimed this long ago and never confirmed (its sender died) is sent again, "
            "with the same Message-ID; longer than any SMTP exchange can take."
        ),
    )


class AuditSettings(BaseModel):
    actor: str = Field(
        default="",
        description="Who is acting, recorded in the audit log; empty means the login name.",
    )


class Settings(BaseSettings):
    """All of ngc-pilot's settings."""

    model_config = SettingsConfigDict(
        env_prefix="NGC_PILOT_", env_nested_delimiter="__", extra="forbid"
    )

    var_dir: Path = Field(
        default=DEFAULT_VAR_DIR,
        description="Where local state lives (SQLite database, researcher environments).",
    )
    database: DatabaseSettings = DatabaseSettings()
    policy: PolicySettings = PolicySettings()
    audit: AuditSettings = AuditSettings()
    cloud: CloudSettings = CloudSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    provisioning: ProvisioningSettings = ProvisioningSettings()
    metering: MeteringSettings = MeteringSettings()
    service: ServiceSettings = ServiceSettings()
    report: ReportSettings = ReportSettings()
    mail: MailSettings = MailSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.var_dir / 'ngc-pilot.db'}"

    @property
    def environments_dir(self) -> Path:
        return self.provisioning.environments_dir or self.var_dir / "environments"

    @property
    def lock_file(self) -> Path:
        return self.service.lock_file or self.var_dir / "serve.lock"

    @property
    def report_dir(self) -> Path:
        return self.report.dir or self.var_dir / "reports"

    @property
    def actor(self) -> str:
        if self.audit.actor:
            return self.audit.actor
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no passwd entry in some containers
            return "unknown"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build settings from file, environment and explicit overrides (highest wins)."""
    env = os.environ if environ is None else environ
    file = config_file or (Path(env["NGC_PILOT_CONFIG"]) if env.get("NGC_PILOT_CONFIG") else None)
    from_file: dict[str, Any] = {}
    if file is not None:
        with open(file, "rb") as handle:
            from_file = tomllib.load(handle)
    from_env = _from_env(env)
    data = _merge(_merge(_merge(_from_openstack_env(env), from_file), from_env), overrides or {})
    # model_validate (unlike Settings()) reads no environment itself: the
    # sources were merged above, in one visible order.
    return Settings.model_validate(data)


def _from_openstack_env(env: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """The cloud group from the OpenStack client conventions (only where to look, never who)."""
    cloud: dict[str, Any] = {}
    if env.get("OS_CLOUD"):
        cloud["name"] = env["OS_CLOUD"]
    if env.get("OS_CLIENT_CONFIG_FILE"):
        cloud["clouds_file"] = env["OS_CLIENT_CONFIG_FILE"]
    return {"cloud": cloud} if cloud else {}


def _from_env(env: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("NGC_PILOT_") or key == "NGC_PILOT_CONFIG":
            continue
        name = key[len("NGC_PILOT_") :].lower()
        if name.startswith("test_"):
            continue
        if name == "database_url":
            data = _merge(data, {"database": {"url": value}})
            continue
        parts = name.split("__")
        node: dict[str, Any] = {}
        cursor = node
        for part in parts[:-1]:
            cursor[part] = {}
            cursor = cursor[part]
        cursor[parts[-1]] = value
        data = _merge(data, node)
    return data
