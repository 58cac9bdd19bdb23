"""``python -m ngc_pilot`` is the same as ``ngc-pilot``."""

from ngc_pilot.cli.main import entry

entry()
