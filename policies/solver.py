"""Running HiGHS on a selection model: a silent, deterministic solver and its answer.

Why it exists: every MILP the package solves (the selection, the
feasibility checks of the infeasibility diagnosis, the benchmark's naive
model) must run the same way — silent (HiGHS's C banner would corrupt JSON on
stdout), single-threaded with a fixed seed (the same input gives the same
set), ``mip_rel_gap = 0`` (so "optimal" is proven) — and report the same
outcome.  The tuning is passed to :func:`solve` explicitly, never changed in
a shared global, so solves in several threads cannot see each other's
options.

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

# Tuned on generated instances (bench/selection.py): HiGHS's primal heuristics
# cost more than they find on this model.
TUNED_OPTIONS: Mapping[str, bool | int | float] = MappingProxyType(
    {
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
HIGHS_DEFAULTS: Mapping[str, bool | int | float] = MappingProxyType({})

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
    time_limit: float | None, options: Mapping[str, bool | int | float] = TUNED_OPTIONS
) -> highspy.Highs:
    """A silent, single-threaded, seeded HiGHS instance with these options."""
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
    highs.setOptionValue("threads", 1)
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
    options: Mapping[str, bool | int | float] = TUNED_OPTIONS,
) -> MilpOutcome:
    """Run HiGHS on ``lp``; ``n`` is the number of candidate columns."""
    highs = new_highs(time_limit, options)
    highs.passModel(lp)
    highs.run()
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
