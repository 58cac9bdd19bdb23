"""Benchmark of the selection optimizer (a script that prints numbers, not a test).

For N generated nominations (``ngc_pilot.synthetic``, deterministic) it times,
in the same run: ngc-pilot's optimizer (bound fixing from the LP relaxation,
dominance reduction, compact MILP, tuned HiGHS), the previous optimizer
(dominance reduction and compact MILP on what is left, no bound fixing), the
current optimizer with the tuning before issue 14 (cut separation at every
branch-and-bound node, not only at the root), and a naive formulation of the same model with the same solver
(``policies.testing.solve_naive``: binary coverage indicators, every
candidate, default HiGHS settings).  It also reports the gap to the optimum of
greedy + local search (the optimizer's fallback when HiGHS finds nothing in
time).

    python bench/selection.py [--sizes 10,100,1000,10000] [--naive-limit 60] [--seed 2021]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from ngc_pilot.synthetic import nominations
from policies.dominance import reduce_dominated
from policies.greedy import greedy
from policies.optimizer import optimize
from policies.portfolio import make_candidate, make_instance, objective
from policies.scoring import score
from policies.selection_model import build_compact, candidate_arrays
from policies.selection_policy import load_policy
from policies.solver import TUNED_OPTIONS, solve
from policies.testing import solve_naive

# The solver tuning before issue 14: cuts separated at every node, not only the root.
NODE_CUTS = {**TUNED_OPTIONS, "mip_allow_cut_separation_at_nodes": True}


def _instance(n: int, policy, seed: int = 2021):
    noms = nominations(n, policy, seed=seed)
    candidates = [make_candidate(x, score(x, policy).total, policy) for x in noms]
    return make_instance(candidates, policy)


def _previous(instance, time_limit: float):
    """The optimizer before bound fixing: dominance reduction, then the compact MILP (old tuning)."""
    reduced = reduce_dominated(instance)
    lp, n = build_compact(candidate_arrays(reduced, instance), instance)
    return solve(lp, n, time_limit, NODE_CUTS)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--naive-limit", type=float, default=60.0, help="seconds per naive solve")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="seconds per ngc-pilot solve"
    )
    parser.add_argument("--seed", type=int, default=2021, help="seed of the generated nominations")
    args = parser.parse_args()
    policy = load_policy()
    print(
        f"# selection benchmark — {platform.processor() or platform.machine()}, Python {platform.python_version()}, seed {args.seed}"
    )
    print(
        "| N | ngc-pilot median (s) | certified | after reduction | with node cuts (s) | previous optimizer (s) | naive median (s) | naive status | speed-up | greedy gap | load 1/5/15 min |"
    )
    print("|---:|---:|:---:|---:|---:|---:|---:|:---:|---:|---:|:---:|")
    for n in (int(x) for x in args.sizes.split(",")):
        instance = _instance(n, policy, args.seed)
        repeat = 5 if n <= 100 else 3 if n <= 1000 else 1
        ours_t, ours = _median_time(
            lambda instance=instance: optimize(instance, args.time_limit), repeat
        )
        cuts_t, cuts = _median_time(
            lambda instance=instance: optimize(instance, args.time_limit, options=NODE_CUTS),
            repeat,
        )
        if cuts.optimal and ours.optimal:
            assert abs(cuts.objective - ours.objective) < 1e-4, (cuts.objective, ours.objective)
        previous_t, previous = _median_time(
            lambda instance=instance: _previous(instance, args.time_limit), repeat
        )
        if previous.status == "optimal" and ours.optimal:
            assert abs(previous.objective - ours.objective) < 1e-4, (previous, ours.objective)
        naive_t, (status, naive_value, naive_gap) = _median_time(
            lambda instance=instance: solve_naive(instance, args.naive_limit),
            1 if n >= 1000 else repeat,
        )
        if naive_value is not None and ours.optimal and status == "optimal":
            assert abs(naive_value - ours.objective) < 1e-4, (naive_value, ours.objective)
        greedy_ids = greedy(instance)
        by_id = instance.by_id()
        greedy_value = objective([by_id[i] for i in greedy_ids], instance) if greedy_ids else 0.0
        gap = (ours.objective - greedy_value) / ours.objective if ours.objective else 0.0
        naive_cell = f"{naive_t:.3f}" if status == "optimal" else f">{naive_t:.1f}"
        naive_status = (
            status
            if status == "optimal"
            else f"{status} (gap {naive_gap:.2%})"
            if naive_gap is not None
            else status
        )
        speedup = f"{naive_t / ours_t:.1f}×" + ("" if status == "optimal" else " (at least)")
        print(
            f"| {n:,} | {ours_t:.3f} | {'yes' if ours.optimal else 'no, gap ' + format(ours.gap or 0, '.2%')} | "
            f"{ours.candidates_after_reduction:,} | {cuts_t:.3f}{'' if cuts.selected == ours.selected else ' (other set, same objective)'} | {previous_t:.3f} | {naive_cell} | {naive_status} | {speedup} | {gap:.2%} | {_load()} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
