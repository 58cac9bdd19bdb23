"""Running HiGHS on a selection model: a silent, deterministic solver and its answer.

Why it exists: every MILP the package solves (the selection, the
feasibility checks of the infeasibility diagnosis, the benchmark's naive
model) must run the same way — silent (HiGHS's C banner would corrupt JSON on
stdout), deterministic (a fixed seed, and HiGHS's parallel tree search with a
fixed number of workers, ``SEARCH_THREADS``, whatever the machine's cores, so
the same input gives the same set), ``mip_rel_gap = 0`` (so
"optimal" is proven) — and report the same outcome.  The tuning is passed to
:func:`solve` explicitly, never changed in a shared global, so solves in
several threads cannot see each other's options; the one thing HiGHS shares
across a process, its thread scheduler, every instance made here sizes alike.

Deliberately not here: building models (``selection_model``) or deciding
what a status means for the selection (``optimizer``).  No MIP start is
passed: with one, highspy 1.16 returned the start's x after proving a better
optimum (found by the brute-force property test).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import highspy
import numpy as np

# HiGHS's threads, for every instance in the process: its scheduler is one
# per process and refuses an instance asking for another number.  Two, not
# the machine's cores, so that a MILP's search (and so its set among equal
# optima) does not depend on the machine; two cores are what the service is
# sized for.  On a machine with one core the two workers take turns.
SEARCH_THREADS = 2

Option = bool | int | float | str

# Tuned on generated instances (bench/selection.py): HiGHS's primal heuristics
# cost more than they find on this model.
TUNED_OPTIONS: Mapping[str, Option] = MappingProxyType(
    {
        # HiGHS's parallel tree search (deterministic as measured: the same
        # nodes and set in 8 runs of each of 4 instances, 4 of them with a
        # busy core): the final MILP after reduction on
        # 13 seeds, N = 10,000, 62.0 -> 43.3 s in all (median 3.9 -> 2.6 s,
        # the slowest 14.9 -> 7.9 s), N = 1,000 a wash (3.16 -> 3.26 s), the
        # same sets; docs/performance.md, the seventh machine.  LPs stay on
        # the serial simplex (this is not set for them).
        "parallel": "on",
        "mip_heuristic_effort": 0.0,
        "mip_heuristic_run_rins": False,
        "mip_heuristic_run_rens": False,
        "mip_heuristic_run_root_reduced_cost": False,
        "mip_heuristic_run_feasibility_jump": False,
        "mip_pscost_minreliable": 0,  # skip strong branching: cheaper nodes win here
        # Cuts only at the root: separating at every node cost more LP work
        # than the nodes it saved (issue 14; the MILP after reduction, seed
        # 2021, load ~1: N = 1,000 0.66 -> 0.41 s, N = 10,000 1.63 -> 1.32 s;
        # bench/selection.py times both in one run).
        "mip_allow_cut_separation_at_nodes": False,
    }
)
# HiGHS's own defaults (the benchmark's baseline).
HIGHS_DEFAULTS: Mapping[str, Option] = MappingProxyType({})
# The tuning with the tree search on one worker (the benchmark's baseline for
# the parallel search, and the node-limited MILPs whose result must not depend
# on how two workers share the nodes).
SERIAL_SEARCH: Mapping[str, Option] = MappingProxyType({**TUNED_OPTIONS, "parallel": "off"})

_banner_lock = threading.Lock()
_banner_suppressed = False


@dataclass(frozen=True)
class MilpOutcome:
    """What one solve found: status optimal | time_limit | infeasible | no_solution."""

    status: str
    x: np.ndarray | None  # the first n columns (the candidates), when a solution exists
    objective: float | None
    bound: float | None
    gap: float | None
    nodes: int | None = None  # branch-and-bound nodes (the benchmark's profile)


def new_highs(
    time_limit: float | None, options: Mapping[str, Option] = TUNED_OPTIONS
) -> highspy.Highs:
    """A silent, seeded HiGHS instance of ``SEARCH_THREADS`` threads with these options."""
    global _banner_suppressed
    with _banner_lock:
        if not _banner_suppressed:
            # HiGHS prints its banner from C on the first construction in a process.
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                highs = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_suppressed = True
        else:
            highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 1e-7)
    highs.setOptionValue("threads", SEARCH_THREADS)
    highs.setOptionValue("random_seed", 0)
    for key, value in options.items():
        highs.setOptionValue(key, value)
    if time_limit is not None:
        highs.setOptionValue("time_limit", float(time_limit))
    return highs


def solve(
    lp: highspy.HighsLp,
    n: int,
    time_limit: float | None,
    options: Mapping[str, Option] = TUNED_OPTIONS,
) -> MilpOutcome:
    """Run HiGHS on ``lp``; ``n`` is the number of candidate columns."""
    highs = new_highs(time_limit, options)
    highs.passModel(lp)
    run(highs)
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status == highspy.HighsModelStatus.kInfeasible:
        return MilpOutcome("infeasible", None, None, None, None)
    if not has_solution:
        return MilpOutcome("no_solution", None, None, None, None)
    x = np.array(highs.getSolution().col_value[:n])
    objective_value = info.objective_function_value
    bound = info.mip_dual_bound
    nodes = int(info.mip_node_count)
    if model_status == highspy.HighsModelStatus.kOptimal:
        return MilpOutcome("optimal", x, objective_value, bound, 0.0, nodes)
    return MilpOutcome("time_limit", x, objective_value, bound, info.mip_gap, nodes)


def run(highs: highspy.Highs) -> None:
    """``highs.run()``, raising where HiGHS refused to run at all.

    An error here is not an answer about the model (HiGHS reports those as
    model statuses): it is, for instance, an instance asking for other
    threads than the process's scheduler has, which would otherwise read as
    "no solution" and quietly fall back to greedy.
    """
    if highs.run() == highspy.HighsStatus.kError:
        raise RuntimeError(
            "HiGHS refused to run the model; one cause is a HiGHS instance elsewhere "
            "in this process that started HiGHS's scheduler with another number of "
            f"threads than SEARCH_THREADS = {SEARCH_THREADS}"
        )
