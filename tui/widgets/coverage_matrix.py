"""Heterogeneity coverage: every attribute value × the selected projects, gaps highlighted.

One row per value any eligible candidate offers; a dot where a selected
project covers it; the values nobody selected covers are marked as gaps, so
the steering group sees at a glance which functions the pilot will not test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable


class CoverageMatrix(DataTable[Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show(
        self, coverage: Mapping[str, Mapping[str, Sequence[str]]], selected: Sequence[str]
    ) -> int:
        """Fill the matrix; returns the number of gaps."""
        self.clear(columns=True)
        self.add_column("attribute", key="attribute")
        self.add_column("value", key="value")
        self.add_column("covered", key="count")
        for pid in selected:
            self.add_column(pid, key=pid)
        gaps = 0
        for attribute, values in coverage.items():
            for value in sorted(values):
                ids = set(values[value])
                gap = not ids
                gaps += gap
                cells: list[Any] = [
                    Text(attribute, style="dim"),
                    Text(value, style="bold red" if gap else ""),
                    Text("gap", style="bold red") if gap else Text(f"{len(ids)}×", justify="right"),
                ]
                cells.extend(Text("●", justify="center") if pid in ids else "" for pid in selected)
                self.add_row(*cells, key=f"{attribute}={value}")
        return gaps
