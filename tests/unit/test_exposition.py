"""The fast text rendering says exactly what prometheus_client's would, awkward values included."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ngc_pilot.exposition import Family, render


def families() -> list[Family]:
    plain = Family("t_plain_seconds", "No labels.", "gauge")
    plain.add_metric((), 1.5)
    odd = Family("t_odd", "Help with a \\ backslash\nand a newline.", "gauge", ["pilot", "state"])
    odd.add_metric(("P-1", "active"), 1e18)
    odd.add_metric(('quote " and \\ and\nnewline', "x"), -0.25)
    odd.add_metric(("inf", "+"), math.inf)
    odd.add_metric(("inf", "-"), -math.inf)
    odd.add_metric(("nan", ""), math.nan)
    count = Family("t_runs", "A counter.", "counter", ["job_id"])
    count.add_metric(["meter"], 3)
    return [plain, odd, count]


def parsed(text: str) -> list:
    def key(value: float) -> object:
        return "nan" if math.isnan(value) else value

    return [
        (
            f.name,
            f.type,
            f.documentation,
            sorted((s.name, sorted(s.labels.items()), key(s.value)) for s in f.samples),
        )
        for f in text_string_to_metric_families(text)
    ]


def test_render_matches_prometheus_client_for_escapes_infinities_and_counters():
    registry = CollectorRegistry()

    class Collector:
        def collect(self):
            return families()

    registry.register(Collector())
    ours = render(families()).decode()
    assert parsed(ours) == parsed(generate_latest(registry).decode())
    assert 't_runs_total{job_id="meter"} 3.0\n' in ours
    assert 't_odd{pilot="quote \\" and \\\\ and\\nnewline",state="x"} -0.25\n' in ours


def test_a_family_refuses_bad_label_names_and_label_counts():
    with pytest.raises(ValueError, match="label name"):
        Family("t", "x", "gauge", ["bad-name"])
    with pytest.raises(ValueError, match="type"):
        Family("t", "x", "histogram")
    family = Family("t", "x", "gauge", ["a", "b"])
    with pytest.raises(ValueError, match="2 label values"):
        family.add_metric(("only one",), 1)
