"""Where things are in the repository, for tests."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "ngc_pilot" / "demo_data"
