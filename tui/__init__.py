"""ngc-pilot's operations terminal UI (Textual).

``make_app`` builds the app from an application context, from settings, or from a
ready :class:`ngc_pilot.facade.Services`; ``ngc-pilot tui`` and the tests use the
same factory.  The UI talks only to ngc-pilot's service layer (through
``ngc_pilot.facade``), never to a cloud SDK or the solver directly (an
import-linter contract in ``pyproject.toml``).
"""

from tui.app import OpsApp, make_app, open_services

__all__ = ["OpsApp", "make_app", "open_services"]
