"""ngc-pilot: runs the Danish National Genome Center's private-cloud pilot.

This package is the application shell: settings, database, audit log, intake,
the selection service and the CLI.  Pure decisions live in ``policies``.
"""

__version__ = "0.1.0"
