"""Benchmark of the operations TUI (a script that prints numbers, not a test).

On a temporary SQLite database with 1,000 generated applications
(``ngc_pilot.synthetic``, stored through ``intake.store``) and 100 pilots of
one decision (inserted directly: the optimizer never picks more than 10), it
measures, headless at 160×48:

* launch → first interactive screen: in-process (``make_app`` to the
  Applications screen shown, and to its table filled with all 1,000 rows), and
  as a whole process (``python`` start to the table filled), beside the same
  run's baseline of ``ngc-pilot --help`` (what every CLI command pays first);
* switching screens (key press → the screen shown), first visit and revisit;
* sorting the applications table by each column (key → sorted and redrawn),
  beside the baseline of re-filling the table with the same rows.

Goals (issue 5): launch ≤ 1 s, switching and sorting ≤ 100 ms.

    python bench/tui.py [--applications 1000] [--pilots 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# This file is named like the package it measures: drop its folder from the path,
# so that ``import tui`` finds the package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SIZE = (160, 48)


def build_database(url: str, n_apps: int, n_pilots: int) -> None:
    from ngc_pilot import intake
    from ngc_pilot.db import session_scope
    from ngc_pilot.models import Pilot, SelectionDecision
    from ngc_pilot.synthetic import nominations
    from policies.planning import planned_dates
    from tui.testing import demo_services

    services = demo_services(url, actor="bench")
    policy = services.policy
    noms = nominations(n_apps, policy)
    with session_scope(services.engine) as session:
        intake.store(
            session,
            [intake.SourcedNomination(n, f"bench:{i}") for i, n in enumerate(noms)],
            actor="bench",
            files=["bench"],
        )
    chosen = noms[:n_pilots]
    with session_scope(services.engine) as session:
        decision = SelectionDecision(
            decided_by="bench",
            reason="benchmark: 100 pilots inserted directly",
            policy_digest=policy.digest,
            k_min=n_pilots,
            k_max=n_pilots,
            objective=0.0,
            optimal=False,
            selected=[n.id for n in chosen],
        )
        session.add(decision)
        session.flush()
        period = policy.pilot_period
        for n in chosen:
            start, end = planned_dates(n.ready_date, n.access_months, period.start, period.end)
            session.add(
                Pilot(
                    id=n.id,
                    application_id=n.id,
                    decision_id=decision.id or 0,
                    planned_start=start,
                    planned_end=end,
                )
            )
    services.engine.dispose()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def painted(pilot) -> None:  # type: ignore[no-untyped-def]
    """Every message queued so far handled, then the whole screen rendered once."""
    await pilot._wait_for_screen()
    pilot.app.screen._compositor.render_update(full=True)


async def measure_in_process(url: str, rounds: int) -> dict[str, object]:
    from textual.widgets import DataTable

    from tui import make_app
    from tui.screens import SCREENS
    from tui.screens.applications import SORT_ORDER, ApplicationsScreen
    from tui.testing import demo_services, settle

    out: dict[str, object] = {}
    started = time.perf_counter()
    services = demo_services(url, actor="bench")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        while not isinstance(app.screen, ApplicationsScreen):
            await asyncio.sleep(0.001)
        await painted(pilot)
        out["launch_shown"] = time.perf_counter() - started
        table = app.screen.query_one("#apps-table", DataTable)
        while table.row_count == 0:
            await asyncio.sleep(0.001)
        await painted(pilot)
        out["launch_filled"] = time.perf_counter() - started
        out["rows"] = table.row_count
        await settle(pilot)

        # Screen switching (the bound action of keys 1..7), first visits then revisits.
        modes = [s.MODE for s in SCREENS]
        first: dict[str, tuple[float, float]] = {}
        for mode in modes[1:] + modes[:1]:
            t0 = time.perf_counter()
            await app.run_action(f"switch_mode('{mode}')")
            await painted(pilot)
            t1 = time.perf_counter()
            await settle(pilot, timeout=900)
            await painted(pilot)
            first[mode] = (t1 - t0, time.perf_counter() - t0)
        revisit: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(rounds):
            for mode in modes:
                t0 = time.perf_counter()
                await app.run_action(f"switch_mode('{mode}')")
                await painted(pilot)
                revisit[mode].append(time.perf_counter() - t0)
        out["switch_first"] = first
        out["switch_revisit"] = {k: statistics.median(v) for k, v in revisit.items()}

        # Sorting the applications table over every column (the action of key s).
        await app.run_action("switch_mode('applications')")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ApplicationsScreen)
        sorts: dict[str, list[float]] = {}
        for _ in range(rounds):
            for _column in SORT_ORDER:
                t0 = time.perf_counter()
                await screen.run_action("sort_next")
                await painted(pilot)
                sorts.setdefault(screen.sort_column, []).append(time.perf_counter() - t0)
        out["sort"] = {k: statistics.median(v) for k, v in sorts.items()}
        refill = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            screen.refill()
            await painted(pilot)
            refill.append(time.perf_counter() - t0)
        out["refill_baseline"] = statistics.median(refill)
    services.engine.dispose()
    return out


def child(url: str) -> None:
    """Run in a fresh interpreter: launch the app and report when the table is filled."""
    from textual.widgets import DataTable

    from tui import make_app
    from tui.screens.applications import ApplicationsScreen
    from tui.testing import demo_services

    async def main() -> None:
        app = make_app(demo_services(url, actor="bench"))
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, ApplicationsScreen):
                await pilot.pause(0.001)
            table = app.screen.query_one("#apps-table", DataTable)
            while table.row_count == 0:
                await pilot.pause(0.001)
            print(f"ready {time.time():.6f}", flush=True)
            app.exit()

    asyncio.run(main())


def process_seconds(argv: list[str], marker: str | None = None) -> float:
    started = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    if marker is None:
        return time.time() - started
    line = next(x for x in done.stdout.splitlines() if x.startswith(marker))
    return float(line.split()[1]) - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--pilots", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="ngc-pilot-bench-tui-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        build_database(url, args.applications, args.pilots)
        print(
            f"# TUI benchmark — {platform.processor() or platform.machine()}, Python "
            f"{platform.python_version()}, {date.today()}"
        )
        print(
            f"# {args.applications} applications, {args.pilots} pilots, SQLite, {SIZE[0]}x{SIZE[1]} "
            f"(database built in {time.perf_counter() - t0:.1f} s)"
        )
        r = asyncio.run(measure_in_process(url, args.rounds))
        script = str(Path(sys.executable).parent / "ngc-pilot")
        proc = [
            process_seconds([sys.executable, __file__, "--child", url], "ready") for _ in range(3)
        ]
        help_ = [process_seconds([script, "--help"]) for _ in range(3)]
        bare = [process_seconds([sys.executable, "-c", "pass"]) for _ in range(3)]

    print("\n## Launch → first interactive screen (goal ≤ 1 s)")
    print(f"in-process, make_app → Applications screen shown     {_ms(r['launch_shown'])}")  # type: ignore[arg-type]
    print(f"in-process, make_app → table filled ({r['rows']} rows)   {_ms(r['launch_filled'])}")  # type: ignore[arg-type]
    print(f"whole process, python start → table filled (median)  {_ms(statistics.median(proc))}")
    print(f"  baseline, same run: `ngc-pilot --help` (CLI imports) {_ms(statistics.median(help_))}")
    print(f"  baseline, same run: `python -c pass`               {_ms(statistics.median(bare))}")

    print("\n## Switching screens: action of keys 1..7 → screen painted (goal ≤ 100 ms)")
    print("| screen | first visit: painted | first visit: data loaded | revisit (median) |")
    print("|---|---:|---:|---:|")
    first = r["switch_first"]
    revisit = r["switch_revisit"]
    from tui.screens import SCREENS

    for screen in SCREENS:
        shown, loaded = first[screen.MODE]  # type: ignore[index]
        print(f"| {screen.TITLE} | {_ms(shown)} | {_ms(loaded)} | {_ms(revisit[screen.MODE])} |")  # type: ignore[index]
    print(
        f"(Selection's data: the optimizer with explanations on all {args.applications} "
        "candidates, in a worker; the screen stays usable meanwhile.)"
    )

    print(
        f"\n## Sorting the applications table ({r['rows']} rows): key s → sorted and redrawn (goal ≤ 100 ms)"
    )
    print("| column | median |")
    print("|---|---:|")
    for column, seconds in r["sort"].items():  # type: ignore[union-attr]
        print(f"| {column} | {_ms(seconds)} |")
    print(
        f"baseline, same run: re-filling the table with the same rows  {_ms(r['refill_baseline'])}"
    )  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
