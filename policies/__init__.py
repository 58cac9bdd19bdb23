"""Pure decisions of ngc-pilot and the shipped default policy files.

Everything here is a function of its inputs: no database, no cloud SDK, no UI,
no scheduler (an import-linter contract in ``pyproject.toml`` enforces it).
The application shell in ``ngc_pilot`` loads data, calls these functions and
records what they decided.
"""
