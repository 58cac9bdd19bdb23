"""The benchmarks' option checks: a bad value is refused before any work, naming
the option, the value and what is allowed; a good one arrives converted."""

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "arguments.py"


@pytest.fixture(scope="module")
def arguments():
    spec = importlib.util.spec_from_file_location("bench_arguments", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def parser_with(option: str, kind) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", exit_on_error=False)
    parser.add_argument(option, type=kind)
    return parser


def refusal(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    with pytest.raises(argparse.ArgumentError) as caught:
        parser.parse_args(argv)
    return str(caught.value)


def test_a_count_and_seconds_keep_to_their_bounds(arguments):
    rounds = parser_with("--rounds", arguments.count(0))
    assert rounds.parse_args(["--rounds", "0"]).rounds == 0
    assert refusal(rounds, ["--rounds", "-1"]) == (
        "argument --rounds: '-1': allowed is a whole number of at least 0"
    )
    assert "'2.5'" in refusal(rounds, ["--rounds", "2.5"])
    lease = parser_with("--lease", arguments.seconds(1, 3600))
    assert lease.parse_args(["--lease", "6"]).lease == 6.0
    for bad in ("0.5", "3601", "nan", "inf"):
        assert refusal(lease, ["--lease", bad]) == (
            f"argument --lease: '{bad}': allowed is a number of seconds of at least 1 "
            "and at most 3600"
        )


def test_a_listing_checks_every_element_its_order_and_repeats(arguments):
    hours = parser_with("--hours", arguments.listing(arguments.count(0), ascending=True))
    assert hours.parse_args(["--hours", "0, 24,168"]).hours == [0, 24, 168]
    assert "in ascending order" in refusal(hours, ["--hours", "24,0"])
    assert "'x': allowed is a whole number" in refusal(hours, ["--hours", "0,x"])
    assert "without empty elements" in refusal(hours, ["--hours", "0,,24"])
    metrics = parser_with("--metrics", arguments.listing(arguments.one_of(("vcpu", "ram"))))
    assert metrics.parse_args(["--metrics", "ram,vcpu"]).metrics == ["ram", "vcpu"]
    assert refusal(metrics, ["--metrics", "ram,disk"]) == (
        "argument --metrics: 'disk': allowed is one of vcpu, ram"
    )
    assert "without repeats" in refusal(metrics, ["--metrics", "ram,ram"])


def test_only_a_benchmark_database_can_be_named_for_reuse(arguments):
    reuse = parser_with("--reuse-db", arguments.bench_database)
    assert reuse.parse_args(["--reuse-db", "ngc_bench_invoices_1"]).reuse_db == (
        "ngc_bench_invoices_1"
    )
    for other in ("postgres", "ngc_pilot", "ngc_bench_", "ngc_bench_A", "ngc_bench_x;drop"):
        assert "allowed is a name starting with ngc_bench_" in refusal(reuse, ["--reuse-db", other])
