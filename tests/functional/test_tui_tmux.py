"""Smoke test: ``ngc-pilot tui`` in a real terminal (tmux), driven by keys, quits cleanly.

Runs the installed console script in a detached tmux session of 160×48 on
its own tmux server (``-L``), presses 1..7, captures the pane after each and
checks the screen's title and a fact from its data, then presses q and checks
that the process exited with status 0.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ngc_pilot.cli.main import run
from tui.testing import DEMO_FILES

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SCRIPT = Path(sys.executable).parent / "ngc-pilot"
SCREENS = [
    ("1", "Applications", "39 of 39 shown"),
    ("2", "Selection", "certified optimal"),
    ("3", "Tenants", "not provisioned"),
    ("4", "Usage & billing", "ngc-pilot meter"),
    ("5", "Capacity", "Tenants: quotas and metered use"),
    ("6", "Jobs", "`ngc-pilot serve` schedules"),
    ("7", "Audit", "selection.committed"),
    ("8", "Evaluation & reports", "Questionnaire version 1"),
]


class Tmux:
    def __init__(self, socket: str):
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout

    def pane(self) -> str:
        return self("capture-pane", "-p", "-t", "tui")

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.pane()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; the pane shows:\n{screen}")
            time.sleep(0.2)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux(f"ngc-pilot-test-{uuid.uuid4().hex[:8]}")
    yield t
    t("kill-server")  # our own server only (-L)


def test_ngc_pilot_tui_in_tmux_shows_every_screen_and_quits(tmux, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'smoke.db'}"
    base = ["--db", url, "--actor", "smoke"]
    assert run([*base, "intake", "import", *map(str, DEMO_FILES)]) == 0
    assert run([*base, "select", "--commit", "--by", "Smoke", "--reason", "smoke test"]) == 0
    status = tmp_path / "status"
    # COLUMNS/LINES from the calling environment would override the pane's real size.
    command = f"unset COLUMNS LINES; {SCRIPT} --db {url} --actor smoke tui; echo $? > {status}"
    tmux("new-session", "-d", "-s", "tui", "-x", "160", "-y", "48", command)

    tmux.wait_for("39 of 39 shown")
    for key, title, fact in SCREENS:
        tmux("send-keys", "-t", "tui", key)
        screen = tmux.wait_for(fact)
        assert f"{title}—" in screen or f"{title} —" in screen, screen  # the header's title
    tmux("send-keys", "-t", "tui", "q")
    deadline = time.monotonic() + 30
    while not status.exists() or not status.read_text().strip():
        assert time.monotonic() < deadline, "the TUI did not exit after q"
        time.sleep(0.2)
    assert status.read_text().strip() == "0"
