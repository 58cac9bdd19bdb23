"""Read YAML while remembering where each value came from.

Validation errors are only useful to an operator when they say *where* the bad
value is.  :func:`load_with_lines` returns the parsed data together with a
lookup from a key path (``("applications", 3, "data", "volume")``) to its line
number, so callers can point at the line.  It deliberately does not validate
anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class LineIndex:
    """Line numbers (1-based) of every mapping value and sequence item, by key path."""

    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), None)


def _index(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _index(value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), lines)


def _bad_timestamp(node: yaml.Node | None) -> yaml.ScalarNode | None:
    """The first date/time scalar under ``node`` that PyYAML cannot construct."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.constructor.SafeConstructor().construct_yaml_timestamp(node)
            except ValueError:
                return node
        return None
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        found = _bad_timestamp(child)
        if found is not None:
            return found
    return None


def load_with_lines(text: str) -> tuple[Any, LineIndex]:
    """Parse YAML ``text`` (safe loader) and index the line of every value.

    Raises :class:`yaml.YAMLError` for text that is not YAML, or holds an
    impossible date; its ``problem_mark`` carries the line.
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    try:
        data = yaml.safe_load(text)
    except ValueError as exc:  # an impossible date such as 2021-06-31
        bad = _bad_timestamp(node)
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{bad.value if bad else ''!r} is not a valid date ({exc}); dates are YYYY-MM-DD",
            bad.start_mark if bad else None,
        ) from exc
    lines: dict[Path, int] = {}
    if node is not None:
        _index(node, (), lines)
    return data, LineIndex(lines)
