"""Metric families kept as rows, and a fast Prometheus text renderer for them.

Why this exists: with 1,000 tenants ``/metrics`` carries some 12,000 series.
prometheus_client builds a ``Sample`` tuple with a label dictionary per series
and escapes every name and label again when it renders them, which costs tens
of microseconds per series: hundreds of milliseconds a scrape, far over the
50 ms the issue allows (``bench/metering.py metrics`` measures both).

:class:`Family` is an ordinary prometheus_client ``Metric`` — a collector
yields it, a ``CollectorRegistry`` collects it, ``generate_latest`` and
``get_sample_value`` work on it — that stores its samples as ``(label values,
value)`` rows and builds ``Sample`` tuples only when someone asks for
``samples``.  :func:`render` writes the Prometheus text format (0.0.4) from
the rows directly: one format string per family, names and label names
checked once.  A test parses both renderings and requires the same samples.

What it deliberately does not do: OpenMetrics, exemplars, timestamps,
histograms or summaries — ``/metrics`` has gauges and counters only, and
Prometheus reads the text format as well as OpenMetrics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import itemgetter

from prometheus_client.core import Metric
from prometheus_client.samples import Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TYPES = ("gauge", "counter")


class Family(Metric):
    """A gauge or counter family whose samples are rows ``(label values, value)``.

    A counter is named without ``_total``, as in prometheus_client; its samples
    and its rendering add the suffix.
    """

    def __init__(self, name: str, documentation: str, typ: str, labels: Sequence[str] = ()):
        if typ not in _TYPES:
            raise ValueError(f"{name}: type must be one of {_TYPES}, not {typ!r}")
        super().__init__(name, documentation, typ)
        for label in labels:
            if not _LABEL.fullmatch(label) or label.startswith("__"):
                raise ValueError(f"{name}: invalid label name {label!r}")
        self.labels = tuple(labels)
        self.rows: list[tuple[tuple[str, ...], float]] = []

    @property
    def sample_name(self) -> str:
        return self.name + "_total" if self.type == "counter" else self.name

    def add_metric(self, values: Sequence[str], value: float) -> None:
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.labels)} label values expected: {values}")
        self.rows.append((values if type(values) is tuple else tuple(values), float(value)))

    @property  # type: ignore[override]
    def samples(self) -> list[Sample]:
        name, labels = self.sample_name, self.labels
        return [Sample(name, dict(zip(labels, values, strict=True)), v) for values, v in self.rows]

    @samples.setter
    def samples(self, _value: list[Sample]) -> None:
        """Metric.__init__ assigns an empty list; the rows are the samples."""


_UNSAFE = re.compile(r'[\\"\n]')


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _special(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def _render_family(family: Family, out: list[str]) -> None:
    name = family.sample_name
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid metric name {name!r}")
    doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    out.append(f"# HELP {name} {doc}\n# TYPE {name} {family.type}\n")
    rows = family.rows
    # The hot loops below format a float with repr() when it is finite
    # (x - x == 0 is false for inf and nan) and label values as they are,
    # unless one of the family's values needs escaping.
    if not family.labels:
        out.extend(f"{name} {repr(x) if x - x == 0 else _special(x)}\n" for _, x in rows)
        return
    if _UNSAFE.search("".join(chain.from_iterable(map(itemgetter(0), rows)))):
        rows = [(tuple(map(_escape_label_value, values)), x) for values, x in rows]
    # One %-format per family: name{a="%s",b="%s"} %s
    template = name + "{" + ",".join(f'{label}="%s"' for label in family.labels) + "} %s\n"
    if len(family.labels) == 1:
        out.extend(template % (v, repr(x) if x - x == 0 else _special(x)) for (v,), x in rows)
    else:
        out.extend(
            template % (*values, repr(x) if x - x == 0 else _special(x)) for values, x in rows
        )


def render(metrics: Iterable[Metric]) -> bytes:
    """The Prometheus text format of ``metrics`` (every one a :class:`Family`)."""
    out: list[str] = []
    for metric in metrics:
        if not isinstance(metric, Family):
            raise TypeError(f"{metric.name}: render() takes Family metrics only")
        _render_family(metric, out)
    return "".join(out).encode("utf-8")
