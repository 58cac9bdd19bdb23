"""Reading the outbox: the notices recorded for delivery.

Kept so that ``ngc_pilot.lifecycle.outbox`` goes on working; the outbox is
the mail package's now (:mod:`ngc_pilot.mail.reading`).  It deliberately
writes nothing and sends nothing.
"""

from __future__ import annotations

from ngc_pilot.mail.reading import outbox

__all__ = ["outbox"]
