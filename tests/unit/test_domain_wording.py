"""Services speak the domain: their problems name fields such as "month" or "job",
never a command-line option; each interface words them for its user (issue 9 §5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ngc_pilot.errors import InputError
from ngc_pilot.invoice_docs import MONTH, parse_month
from policies import windows as W
from scheduler.registry import lookup


def _problem(call, *args):
    with pytest.raises(InputError) as refused:
        call(*args)
    [problem] = refused.value.problems
    return problem


def test_a_bad_month_is_a_problem_about_the_month():
    problem = _problem(parse_month, "2021-13")
    assert (problem.field, problem.value) == (MONTH, "2021-13") == ("month", "2021-13")
    assert problem.source != "command line" and "YYYY-MM" in problem.message


def test_an_unknown_job_is_a_problem_about_the_job():
    problem = _problem(lookup, {"meter": object()}, "nope")
    assert (problem.source, problem.field) == ("jobs", "job")
    assert problem.message == "no such job; jobs: meter"


def test_a_span_error_names_its_bound_not_an_option():
    at = datetime(2021, 5, 10, 12, tzinfo=UTC)
    with pytest.raises(W.WindowError) as refused:
        W.explicit(at, at.replace(hour=11), at.replace(hour=13), 60, limit=24)
    assert refused.value.bound == "end" and "--" not in str(refused.value)
