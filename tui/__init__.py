"""ngc-pilot's operations terminal UI (Textual).

``make_app`` builds the app from the CLI's context, from settings, or from a
ready :class:`tui.services.Services`; ``ngc-pilot tui`` and the tests use the
same factory.  The UI talks only to ngc-pilot's service layer (through
``tui.services``), never to a cloud SDK or the solver directly (an
import-linter contract in ``pyproject.toml``).
"""

from tui.app import OpsApp, make_app

__all__ = ["OpsApp", "make_app"]
