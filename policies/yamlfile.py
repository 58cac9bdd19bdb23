"""Read YAML while remembering where each value came from.

Validation errors are only useful to an operator when they say *where* the bad
value is.  :func:`load_with_lines` returns the parsed data together with a
lookup from a key path (``("applications", 3, "data", "volume")``) to its line
number, so callers can point at the line.  It deliberately does not validate
the data's meaning; it only refuses YAML that is unsafe or ambiguous to read:
anchors and aliases (alias expansion is the "billion laughs" attack, and no
nomination, evaluation or policy file needs them), nesting deeper than
:data:`MAX_DEPTH`, text longer than :data:`MAX_FILE_BYTES`, and a key given
twice in one mapping (YAML says the last wins, which silently drops a value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Largest input file read (20 MiB): 20,000 nominations fit in about 12 MiB."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists; real files use at most six levels."""
MAX_NODES = 2_000_000
"""Most values (scalars, lists, mappings) in one file: 20,000 nominations have about 1.2
million; a file of short values ("[0,0,0,…]") within the size limit could otherwise
take gigabytes of memory to compose."""
MAX_NUMBER_CHARS = 40
"""Longest number written in a file; no field needs more than 40 characters."""


class _GuardedLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases, anchors, deep nesting and too many values."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (&name, *name) are not allowed; write the value out",
                event.start_mark,
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_NODES} values in one file", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def check_size(text: str) -> None:
    """Raise :class:`yaml.YAMLError` when ``text`` is over :data:`MAX_FILE_BYTES`."""
    if len(text) > MAX_FILE_BYTES:
        raise yaml.YAMLError(
            f"the text has {len(text)} characters; at most {MAX_FILE_BYTES} are allowed"
        )


def _refuse_ambiguous(node: yaml.Node | None) -> None:
    """Refuse a key repeated in one mapping and an integer too long to be meant."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        raise yaml.constructor.ConstructorError(
                            None,
                            None,
                            f"the key {key_node.value!r} is given twice in one mapping",
                            key_node.start_mark,
                        )
                    seen.add(key_node.value)
                stack.extend([key_node, value_node])
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif (
            isinstance(current, yaml.ScalarNode)
            and current.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
            and len(current.value) > MAX_NUMBER_CHARS
        ):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a number of {len(current.value)} characters; at most {MAX_NUMBER_CHARS} are allowed",
                current.start_mark,
            )


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

    Raises :class:`yaml.YAMLError` for text that is not YAML, holds an
    impossible date, an alias, a repeated key, nesting beyond :data:`MAX_DEPTH`
    or more than :data:`MAX_FILE_BYTES`; its ``problem_mark`` carries the line.
    """
    check_size(text)
    loader = _GuardedLoader(text.removeprefix("\ufeff"))
    node: yaml.Node | None = None
    try:
        node = loader.get_single_node()
        _refuse_ambiguous(node)
        data = loader.construct_document(node) if node is not None else None
    except ValueError as exc:  # an impossible date such as 2021-06-31
        bad = _bad_timestamp(node)
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{bad.value if bad else ''!r} is not a valid date ({exc}); dates are YYYY-MM-DD",
            bad.start_mark if bad else None,
        ) from exc
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if node is not None:
        _index(node, (), lines)
    return data, LineIndex(lines)
