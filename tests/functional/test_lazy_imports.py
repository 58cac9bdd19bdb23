"""Service modules loaded on first use (``ngc_pilot.lazy``) from several threads.

The scheduler runs jobs in worker threads and the TUI loads data in workers;
their first use of a lazily named module must not see it half-imported
(Python 3.11's ``LazyLoader`` did, and so do concurrent first imports of
SQLAlchemy).  Each round is a fresh interpreter, where nothing is imported yet.
"""

from __future__ import annotations

import subprocess
import sys

CODE = """
import threading
from ngc_pilot.lazy import lazy_module
db = lazy_module("ngc_pilot.db")
selection = lazy_module("ngc_pilot.selection")
provisioning = lazy_module("ngc_pilot.provisioning")
errors = []
barrier = threading.Barrier(6)
def use(module, name):
    barrier.wait()
    try:
        getattr(module, name)
    except Exception as exc:
        errors.append(repr(exc))
pairs = [(db, "session_scope"), (provisioning, "provision"), (selection, "propose"),
         (db, "make_engine"), (provisioning, "teardown"), (selection, "assess_one")]
threads = [threading.Thread(target=use, args=pair) for pair in pairs]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
"""


def test_first_use_from_six_threads_at_once_imports_each_module_whole():
    for _ in range(4):
        done = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=120
        )
        assert done.stdout.strip() == "[]", done.stdout


def test_the_stand_in_reads_through_to_the_module_in_sys_modules(monkeypatch):
    import ngc_pilot.db
    from ngc_pilot.lazy import lazy_module

    db = lazy_module("ngc_pilot.db")
    assert db.session_scope is ngc_pilot.db.session_scope
    monkeypatch.setattr(ngc_pilot.db, "utcnow", lambda: "patched")
    assert db.utcnow() == "patched"
