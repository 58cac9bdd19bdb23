"""A tenant's life after provisioning: drift, expiry, and the data-access switch.

The package's modules: :mod:`.drift` (reconcile), :mod:`.expiry`,
:mod:`.data_access`, :mod:`.notices` (the outbox); this package re-exports
their entry points, which the jobs and interfaces call.

* :func:`reconcile` — observe each active or suspended tenant and plan it; the
  plan's changes *are* the drift (quotas, roles, security-group rules, missing
  resources).  Drift is reported and audited when it changes; it is repaired
  (through the provisioning service, so every step is in the ledger) only
  when asked or when the lifecycle policy says so.
* :func:`expire` — the expiry rules of ``policies/lifecycle.py`` for one day:
  notices into the outbox (once each), suspension the day after the last day,
  and after the grace period the final invoice and the teardown.
* :func:`switch_data_access` — from each pilot's date (its own or the
  policy's), grant each active tenant whose data sources include the national
  genome data the data-access role, once; :func:`set_data_access_date` sets a
  pilot's own date.

Suspension and data access are recorded on the tenant row *and* are part of
its desired state, so ``provision`` and ``reconcile`` keep them.  A lifecycle
step applies only the changes its decision adds to the plan; other drift is
left to :func:`reconcile`.  Every function may run again at any time: what is
done is not done twice.  ``today`` lets operations (and tests) run the rules
for a given day; every change made that way is audited with that day and the
fact that it was given.  Nothing here sends mail: the outbox is read by
whatever delivers it.
"""

from __future__ import annotations

from ngc_pilot.lifecycle.data_access import (
    AccessReport,
    set_data_access_date,
    switch_data_access,
)
from ngc_pilot.lifecycle.drift import ReconcileReport, TenantDrift, reconcile
from ngc_pilot.lifecycle.expiry import ExpiryReport, ExpiryStep, expire
from ngc_pilot.lifecycle.notices import outbox

__all__ = [
    "AccessReport",
    "ExpiryReport",
    "ExpiryStep",
    "ReconcileReport",
    "TenantDrift",
    "expire",
    "outbox",
    "reconcile",
    "set_data_access_date",
    "switch_data_access",
]
