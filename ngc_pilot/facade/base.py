"""What every area of the service facade shares: the engine, the policy, the actor.

:class:`FacadeBase` holds the fields; the areas (applications and selection,
tenants, usage and billing, jobs) are classes on top of it that
:class:`ngc_pilot.facade.Services` combines.  Also here: how a cloud failure
becomes ngc-pilot's own error, and the database URL as it may be shown.
Nothing here builds settings or knows about an interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ngc_pilot.errors import InputError, PermanentError, TransientError
from ngc_pilot.settings import Settings
from policies.selection_policy import SelectionPolicy
from provisioner.backend import CloudError

if TYPE_CHECKING:
    from ngc_pilot.facade.jobs import JobsPort
    from ngc_pilot.provisioning import Provisioner


@dataclass
class FacadeBase:
    engine: Engine
    policy: SelectionPolicy
    actor: str
    database_label: str = field(default="")
    error_log: Path | None = None  # where unexpected errors' tracebacks go
    provisioner: Callable[[], Provisioner] | None = None  # None: no cloud configured
    cloud_label: str = ""
    parallel: int = 4  # tenants provisioned at once by "apply all"
    settings: Settings | None = None  # jobs' schedules, the price list; None: the defaults
    jobs_port: JobsPort | None = None  # the scheduler's jobs; None: jobs cannot be shown

    def _prov(self) -> Provisioner:
        if self.provisioner is None:
            raise InputError("no cloud is configured for this session")
        return self.provisioner()


@contextmanager
def cloud_errors() -> Iterator[None]:
    """A cloud failure as ngc-pilot's own error: transient (retry may help) or permanent."""
    try:
        yield
    except CloudError as exc:
        if exc.transient:
            raise TransientError(f"the cloud did not answer: {exc}") from exc
        raise PermanentError(f"the cloud refused: {exc}") from exc


def database_label(url: str) -> str:
    """The database URL as shown on screen: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL fails later, with the engine's own message
        return url
