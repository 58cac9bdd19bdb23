"""Benchmark of the operations TUI (a script that prints numbers, not a test).

On a temporary SQLite database with 1,000 generated applications
(``ngc_pilot.synthetic``, stored through ``intake.store``), 100 pilots of one
decision (inserted directly: the optimizer never picks more than 10) and a
tenant for each pilot with its step ledger (as the provisioner leaves them,
``tui.testing.record_tenant``), it measures, headless at 160×48:

* launch → first interactive screen: in-process (``make_app(settings)`` to
  the Applications screen painted, and to its table filled with all 1,000
  rows), and as a whole process (``python`` start to the screen painted, and
  to the table filled), beside the same run's baselines of ``python -c pass``
  and ``ngc-pilot --help`` (the CLI's imports, which ``ngc-pilot tui`` pays
  before the TUI starts);
* switching screens (key press → the screen shown), first visit and revisit;
* sorting the applications table by each column (key → sorted and redrawn),
  beside the baseline of re-filling the table with the same rows.

Goals (issue 5): launch ≤ 1 s, switching and sorting ≤ 100 ms.

Every figure is the median of ``--rounds`` repetitions (whole-process
launches: of ``--launches``); the machine may be shared, so look at the
spread too (``--verbose`` prints every sample).

    python bench/tui.py [--applications 1000] [--pilots 100] [--rounds 5] [--launches 5]
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

from arguments import count  # noqa: E402  (before its folder leaves the path)

# This file is named like the package it measures: drop its folder from the path,
# so that ``import tui`` finds the package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SIZE = (160, 48)
# Polling for "shown" / "filled" with plain sleeps: ``Pilot.pause`` would force a
# screen update on every poll and starve the worker that loads the data.
POLL = 0.005


def build_database(url: str, n_apps: int, n_pilots: int) -> None:
    from ngc_pilot import intake
    from ngc_pilot.db import session_scope
    from ngc_pilot.models import Pilot, SelectionDecision
    from ngc_pilot.synthetic import nominations
    from policies.planning import planned_dates
    from tui.testing import demo_services, record_tenant

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
    steps = [
        (f"{action} {resource} ngc-bench", "done")
        for action, resource in (
            ("create", "project"),
            ("create", "group"),
            ("create", "role_assignment"),
            ("create", "user"),
            ("update", "compute_quota"),
            ("update", "network_quota"),
            ("update", "volume_quota"),
            ("create", "network"),
            ("create", "subnet"),
            ("create", "router"),
            ("create", "router_interface"),
            ("create", "security_group"),
            ("create", "security_group_rule"),
            ("create", "application_credential"),
        )
    ]
    for i, n in enumerate(chosen):
        state = "failed" if i % 10 == 9 else "active"
        record_tenant(
            services,
            n.id,
            state,
            cidr=f"10.240.{i}.0/24",
            steps=steps if state == "active" else steps[:5] + [("create network x", "failed")],
            last_error="create network x failed: HttpException (HTTP 503)"
            if state == "failed"
            else None,
            environment=f"var/environments/{n.id}" if state == "active" else None,
        )
    services.engine.dispose()


def bench_settings(url: str):  # type: ignore[no-untyped-def]
    from ngc_pilot.settings import build_settings

    return build_settings(
        overrides={"database": {"url": url}, "audit": {"actor": "bench"}}, environ={}
    )


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
    from tui.testing import settle

    out: dict[str, object] = {}
    settings = bench_settings(url)
    started = time.perf_counter()
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        while not isinstance(app.screen, ApplicationsScreen):
            await asyncio.sleep(POLL)
        await painted(pilot)
        out["launch_shown"] = time.perf_counter() - started
        table = app.screen.query_one("#apps-table", DataTable)
        while table.row_count == 0:
            await asyncio.sleep(POLL)
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
    app.services.engine.dispose()
    return out


def child(url: str) -> None:
    """Run in a fresh interpreter: launch the app the way ``ngc-pilot tui`` does (the
    CLI's imports, settings, the policy check, then ``make_app(settings)``); report when
    the first screen is painted and when its table is filled."""
    from textual.widgets import DataTable

    import ngc_pilot.cli.main  # noqa: F401  (what `ngc-pilot` imports before any command)
    from ngc_pilot.cli.context import AppContext
    from tui import make_app
    from tui.screens.applications import ApplicationsScreen

    async def main() -> None:
        context = AppContext(bench_settings(url))
        _ = context.policy  # as `ngc-pilot tui` does before taking the screen
        app = make_app(context.settings)
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, ApplicationsScreen):
                await asyncio.sleep(POLL)
            await painted(pilot)
            print(f"shown {time.time():.6f}", flush=True)
            table = app.screen.query_one("#apps-table", DataTable)
            while table.row_count == 0:
                await asyncio.sleep(POLL)
            await painted(pilot)
            print(f"ready {time.time():.6f}", flush=True)
            app.exit()

    asyncio.run(main())


def process_seconds(argv: list[str], *markers: str) -> list[float]:
    """Seconds from starting ``argv`` to each marker line it prints (or to its exit)."""
    started = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    if not markers:
        return [time.time() - started]
    lines = done.stdout.splitlines()
    return [
        float(next(x for x in lines if x.startswith(marker)).split()[1]) - started
        for marker in markers
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=count(), default=1000)
    parser.add_argument("--pilots", type=count(), default=100)
    parser.add_argument("--rounds", type=count(), default=5)
    parser.add_argument("--launches", type=count(), default=5)
    parser.add_argument("--verbose", action="store_true", help="print every launch sample")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pilots > args.applications:
        parser.error(
            f"argument --pilots: {args.pilots}: allowed is at most --applications "
            f"({args.applications}); the pilots are chosen among the applications"
        )
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
        shown, filled, help_, bare = [], [], [], []
        for _ in range(args.launches):  # interleaved, so load on the machine hits all alike
            a, b = process_seconds([sys.executable, __file__, "--child", url], "shown", "ready")
            shown.append(a)
            filled.append(b)
            help_.extend(process_seconds([script, "--help"]))
            bare.extend(process_seconds([sys.executable, "-c", "pass"]))

    def spread(values: list[float]) -> str:
        line = f"{_ms(statistics.median(values))}"
        if args.verbose:
            line += "   [" + ", ".join(f"{v * 1000:.0f}" for v in values) + "]"
        return line

    print("\n## Launch → first interactive screen (goal ≤ 1 s)")
    print(f"in-process, make_app → Applications screen painted     {_ms(r['launch_shown'])}")  # type: ignore[arg-type]
    print(f"in-process, make_app → table filled ({r['rows']} rows)     {_ms(r['launch_filled'])}")  # type: ignore[arg-type]
    print(f"whole process, python start → first screen painted    {spread(shown)}")
    print(f"whole process, python start → table filled            {spread(filled)}")
    print(f"  baseline, same run: `python -c pass`                 {spread(bare)}")
    print(f"  baseline, same run: `ngc-pilot --help` (CLI imports) {spread(help_)}")
    print(
        "  (the whole-process launch goes the way of `ngc-pilot tui`: the CLI's imports, "
        "the policy check, then the app, which opens the database after the first paint.)"
    )

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
