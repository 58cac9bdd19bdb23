"""Benchmark of the steering group's monthly report (a script that prints numbers, not a test).

    python bench/report.py [--pilots 10] [--rounds 3] [--db URL] [--keep]

Goal (issue 12): a month's report for 10 pilots, PDF with plots, in <= 3 s.

Data: ``tests/support/report_seed.py`` with *hourly* usage records for May
2021 (744 windows x 3 metrics per pilot, as the meter stores them), capacity
snapshots every third day, evaluation responses and support items; a scratch
SQLite file unless ``--db`` names another (empty) database.

Timed, in the same run on the same data (median of ``--rounds``):

1. gathering the report's numbers (``reports.gather``);
2. rendering the PDF with its plots (``reports.render``);
3. the whole report as ``ngc-pilot report`` writes it (gather, render, write,
   audit) — **the goal's number**;
4. baseline: the same numbers through the existing commands, in process —
   ``usage --json``, ``invoice --no-rate --json``, ``evaluation list --json``
   and ``invoice --prices OTHER --json`` for each other candidate price list.

The machine's load average is printed: on a shared machine the numbers move
with whatever else runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from arguments import count  # noqa: E402

MONTH = "2021-05"


def timed(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pilots", type=count(), default=10)
    parser.add_argument("--rounds", type=count(), default=3)
    parser.add_argument("--db", help="an empty database URL (default: a scratch SQLite file)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch folder (the SQLite file, the report's PDF) and print its path",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        return bench(args, scratch)
    finally:
        if args.keep:
            print(f"kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def bench(args: argparse.Namespace, scratch: Path) -> int:
    """The timed runs, their scratch files (database, reports) in ``scratch``."""
    from support.report_seed import seed_month

    from ngc_pilot import report_data, reports
    from ngc_pilot.cli.main import run
    from ngc_pilot.settings import build_settings
    from policies.selection_policy import load_policy

    url = args.db or f"sqlite:///{scratch / 'bench.db'}"
    start = time.perf_counter()
    engine = seed_month(url, args.pilots, step_hours=1)
    print(
        f"seeded {args.pilots} pilots, hourly usage of {MONTH}: {time.perf_counter() - start:.1f} s"
    )
    settings = build_settings(
        overrides={"database": {"url": url}, "report": {"dir": str(scratch / "reports")}},
        environ={},
    )
    policy = load_policy(None)
    # The shadow invoices the report shows are the stored ones: rate the month once.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run(["--db", url, "invoice", "--month", MONTH, "--json"]) == 0

    data = reports.gather(engine, settings, MONTH, policy=policy)
    gather = timed(lambda: reports.gather(engine, settings, MONTH, policy=policy), args.rounds)
    render = timed(lambda: reports.render(data, "pdf", "da"), args.rounds)
    whole = timed(
        lambda: reports.generate(
            engine, settings, MONTH, fmt="pdf", language="da", actor="bench", policy=policy
        ),
        args.rounds,
    )
    others = report_data.candidate_price_files(None)[1:]
    commands = [
        ["usage", "--since", "2021-05-01T00:00Z", "--until", "2021-06-01T00:00Z", "--json"],
        ["invoice", "--month", MONTH, "--no-rate", "--json"],
        ["evaluation", "list", "--json"],
        *[["invoice", "--month", MONTH, "--prices", str(p), "--json"] for p in others],
    ]

    def baseline() -> None:
        for command in commands:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                assert run(["--db", url, *command]) == 0, command

    existing = timed(baseline, args.rounds)
    pdf = next((scratch / "reports").glob("*.pdf"))
    print(
        f"report of {MONTH}, {args.pilots} pilots, PDF with plots ({pdf.stat().st_size:,} bytes):"
    )
    print(f"  gather the numbers         {gather:6.3f} s")
    print(f"  render the PDF             {render:6.3f} s")
    print(f"  whole report (goal <= 3 s) {whole:6.3f} s   {'OK' if whole <= 3 else 'OVER'}")
    print(f"  baseline: {len(commands)} existing commands for the same numbers {existing:6.3f} s")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
