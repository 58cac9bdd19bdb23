"""Benchmark of the selection optimizer (a script that prints numbers, not a test).

For N generated nominations (``ngc_pilot.synthetic``, deterministic) it times,
in the same run: ngc-pilot's optimizer (bound fixing from the LP relaxation,
dominance reduction, compact MILP, tuned HiGHS with its parallel tree search
on two workers), the same with the tree search on one worker, the previous
optimizer (dominance reduction and compact MILP on what is left, no bound
fixing), the current optimizer with the tuning before issue 14 (one worker,
cut separation at every branch-and-bound node, not only at the root), and a
naive formulation of the same model with the same solver
(``policies.testing.solve_naive``: binary coverage indicators, every
candidate, default HiGHS settings).  It also reports the gap to the optimum of
greedy + local search (the optimizer's fallback when HiGHS finds nothing in
time), and the tie-break swaps on the optimum, vectorised beside the
pair-by-pair loop they replaced (``policies.testing.canonical_swaps_loop``).
Each time is the median wall time with its CPU time (``time.process_time``)
beside it: the machine is shared, so the wall time depends on the load
printed on the row.

    python bench/selection.py [--sizes 10,100,1000,10000] [--naive-limit 60] [--seed 2021]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time

from arguments import count, listing, seconds

from ngc_pilot import synthetic
from policies.bound_fixing import best_incumbent, lp_bounds, survivors
from policies.dominance import reduce_dominated
from policies.greedy import greedy
from policies.optimizer import canonical_swaps, optimize, reduce_candidates
from policies.portfolio import objective
from policies.selection_model import build_compact, candidate_arrays
from policies.selection_policy import load_policy
from policies.solver import SERIAL_SEARCH, solve
from policies.testing import canonical_swaps_loop, solve_naive

# The solver tuning before issue 14: one search worker, cuts separated at
# every node, not only the root.
NODE_CUTS = {**SERIAL_SEARCH, "mip_allow_cut_separation_at_nodes": True}


def _previous(instance, time_limit: float):
    """The optimizer before bound fixing: dominance reduction, then the compact MILP (old tuning)."""
    reduced = reduce_dominated(instance)
    lp, n = build_compact(candidate_arrays(reduced, instance), instance)
    return solve(lp, n, time_limit, NODE_CUTS)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _median_time(fn, repeat: int) -> tuple[float, float, object]:
    """(median wall seconds, median CPU seconds, the last result) of ``repeat`` calls."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def _cell(wall: float, cpu: float) -> str:
    return f"{wall:.3f} / {cpu:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=listing(count()),
        default=[10, 100, 1000, 10000],
        help="numbers of nominations, comma-separated (default 10,100,1000,10000)",
    )
    parser.add_argument(
        "--naive-limit", type=seconds(0.1), default=60.0, help="seconds per naive solve"
    )
    parser.add_argument(
        "--time-limit", type=seconds(0.1), default=120.0, help="seconds per ngc-pilot solve"
    )
    parser.add_argument("--seed", type=int, default=2021, help="seed of the generated nominations")
    args = parser.parse_args()
    policy = load_policy()
    print(
        f"# selection benchmark — {platform.processor() or platform.machine()}, Python {platform.python_version()}, seed {args.seed}"
    )
    print(
        "| N | ngc-pilot wall / CPU (s) | certified | after reduction | one search worker (s) | with node cuts (s) | previous optimizer (s) | naive wall / CPU (s) | naive status | speed-up (wall) | tie-break swaps on the MILP's candidates, vectorised · loop (CPU s) | greedy gap | load 1/5/15 min |"
    )
    print("|---:|---:|:---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|:---:|")
    for n in args.sizes:
        instance = synthetic.instance(n, policy, args.seed)
        repeat = 5 if n <= 100 else 3 if n <= 1000 else 1
        ours_t, ours_cpu, ours = _median_time(
            lambda instance=instance: optimize(instance, args.time_limit), repeat
        )
        serial_t, serial_cpu, serial = _median_time(
            lambda instance=instance: optimize(instance, args.time_limit, options=SERIAL_SEARCH),
            repeat,
        )
        if serial.optimal and ours.optimal:
            assert abs(serial.objective - ours.objective) < 1e-4, (serial.objective, ours.objective)
        cuts_t, cuts_cpu, cuts = _median_time(
            lambda instance=instance: optimize(instance, args.time_limit, options=NODE_CUTS),
            repeat,
        )
        if cuts.optimal and ours.optimal:
            assert abs(cuts.objective - ours.objective) < 1e-4, (cuts.objective, ours.objective)
        previous_t, previous_cpu, previous = _median_time(
            lambda instance=instance: _previous(instance, args.time_limit), repeat
        )
        if previous.status == "optimal" and ours.optimal:
            assert abs(previous.objective - ours.objective) < 1e-4, (previous, ours.objective)
        naive_t, naive_cpu, (status, naive_value, naive_gap) = _median_time(
            lambda instance=instance: solve_naive(instance, args.naive_limit),
            1 if n >= 1000 else repeat,
        )
        if naive_value is not None and ours.optimal and status == "optimal":
            assert abs(naive_value - ours.objective) < 1e-4, (naive_value, ours.objective)
        chosen = [instance.by_id()[i] for i in ours.selected]
        pool = list(reduce_candidates(instance)[0])  # what the MILP and the tie-break get
        swaps_t, swaps_cpu, swapped = _median_time(
            lambda chosen=chosen, pool=pool, instance=instance: canonical_swaps(
                chosen, pool, instance
            ),
            repeat,
        )
        loop_t, loop_cpu, looped = _median_time(
            lambda chosen=chosen, pool=pool, instance=instance: canonical_swaps_loop(
                chosen, pool, instance
            ),
            repeat,
        )
        assert swapped == looped, ([c.id for c in swapped], [c.id for c in looped])
        greedy_ids = greedy(instance)
        by_id = instance.by_id()
        greedy_value = objective([by_id[i] for i in greedy_ids], instance) if greedy_ids else 0.0
        gap = (ours.objective - greedy_value) / ours.objective if ours.objective else 0.0
        naive_cell = _cell(naive_t, naive_cpu) if status == "optimal" else f">{naive_t:.1f}"
        naive_status = (
            status
            if status == "optimal"
            else f"{status} (gap {naive_gap:.2%})"
            if naive_gap is not None
            else status
        )
        speedup = f"{naive_t / ours_t:.1f}×" + ("" if status == "optimal" else " (at least)")
        certified = "yes" if ours.optimal else "no, gap " + format(ours.gap or 0, ".2%")
        other = "" if cuts.selected == ours.selected else " (other set, same objective)"
        other_serial = "" if serial.selected == ours.selected else " (other set, same objective)"
        print(
            f"| {n:,} | {_cell(ours_t, ours_cpu)} | {certified} | "
            f"{ours.candidates_after_reduction:,} | {_cell(serial_t, serial_cpu)}{other_serial} | "
            f"{_cell(cuts_t, cuts_cpu)}{other} | "
            f"{_cell(previous_t, previous_cpu)} | {naive_cell} | {naive_status} | {speedup} | "
            f"{swaps_cpu:.3f} · {loop_cpu:.3f} | {gap:.2%} | {_load()} |",
            flush=True,
        )
    print()
    print(
        "| N | LP relaxation, priced · every column (CPU s) | incumbents (CPU s) | after bound fixing "
        "| dominance (CPU s) | final MILP, wall / CPU (s) | the same, one search worker "
        "| root gap | load 1/5/15 min |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for n in args.sizes:
        if n > 100:
            print(
                f"| {n:,} | {_profile(synthetic.instance(n, policy, args.seed))} {_load()} |",
                flush=True,
            )


def _cpu(fn):
    """(CPU seconds, result) of one call."""
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def _timed(fn):
    """(wall seconds, CPU seconds, result) of one call."""
    started = time.perf_counter()
    cpu, result = _cpu(fn)
    return time.perf_counter() - started, cpu, result


def _profile(instance) -> str:
    """One row of the phase profile of a selection on ``instance`` (CPU seconds; the final MILP on
    two search workers and on one also wall seconds)."""
    pool = tuple(c for c in instance.candidates if c.id not in instance.lock_out)
    priced_t, (z_priced, upper) = _cpu(lambda: lp_bounds(pool, instance))
    whole_t, (z_whole, _) = _cpu(lambda: lp_bounds(pool, instance, first_columns=len(pool)))
    assert abs(z_priced - z_whole) < 1e-6, (z_priced, z_whole)
    incumbent_t, z = _cpu(lambda: best_incumbent(instance, pool, upper))
    fixed = survivors(pool, instance, upper, z)
    restricted = dataclasses.replace(instance, candidates=fixed, lock_out=frozenset())
    dominance_t, kept = _cpu(lambda: reduce_dominated(restricted))
    lp, n = build_compact(candidate_arrays(kept, instance), instance)
    highs_wall, highs_t, outcome = _timed(lambda: solve(lp, n, None))
    serial_wall, serial_t, serial = _timed(lambda: solve(lp, n, None, SERIAL_SEARCH))
    gap = (z_priced - outcome.objective) / outcome.objective
    return (
        f"{priced_t:.3f} · {whole_t:.3f} | {incumbent_t:.3f} | {len(fixed):,} | "
        f"{dominance_t:.3f} | {_cell(highs_wall, highs_t)} ({outcome.nodes:,} nodes) | "
        f"{_cell(serial_wall, serial_t)} ({serial.nodes:,} nodes) | {gap:.2%} |"
    )


if __name__ == "__main__":
    main()
