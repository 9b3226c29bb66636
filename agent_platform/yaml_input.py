"""Parsing YAML that a user hands us, within limits, so a hostile file costs bounded time and memory.

``yaml.safe_load`` accepts three things that let a small or careless file cost too much or mean
something else than it says: aliases, which let a few hundred bytes expand into billions of
nodes once something walks the result ("billion laughs"); unbounded nesting, which exhausts
Python's recursion while the document is composed or validated; and duplicate keys, which
silently keep the last value. :func:`parse_yaml` bounds the first two and refuses the third
while composing, before any object is built. Aliases stay allowed within
:data:`MAX_EXPANDED_NODES` (``yaml.safe_dump`` writes them for shared objects, and ``<<: *base``
is a fair way to share settings); a recursive alias is refused. It also turns what PyYAML lets
escape as a bare ``ValueError`` (an impossible date, an integer of thousands of digits) and
strings holding lone surrogates (``"\\ud800"``, which no store can encode) into a
:class:`YAMLRefused` naming the line. Callers translate it into their one-line error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from agent_platform.inputs import clip, shorten

__all__ = ["LOADERS", "MAX_DEPTH", "MAX_EXPANDED_NODES", "YAMLRefused", "parse_yaml"]

_SHOWN_PARTS = 6
_SHOWN_KEY = 40

MAX_DEPTH = 64
"""How deeply collections may nest (the shipped configs and snapshots use at most 8)."""

MAX_EXPANDED_NODES = 1_000_000
"""How many nodes a document may hold with every alias expanded: what a validator walking the
result visits. A megabyte of YAML without aliases holds at most about half of that."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class YAMLRefused(yaml.MarkedYAMLError):
    """A document that is valid YAML but outside what we accept.

    Attributes:
        line: the 1-based line of the offending node.
        key: the dotted key of the offending node (``<root>`` at the top).
        value: a short, already clipped rendering of what was found.
        allowed: what would be accepted, in words.
    """

    def __init__(self, node_mark: Any, key: str, value: str, allowed: str) -> None:
        super().__init__(problem=allowed, problem_mark=node_mark)
        self.line = node_mark.line + 1 if node_mark is not None else 0
        self.key = key
        self.value = value
        self.allowed = allowed


class _BoundedComposer(Composer, SafeConstructor, Resolver):
    """The safe composer and constructor, tracking where they are; they bound alias expansion
    and nesting and refuse recursive aliases, duplicate keys, unbuildable scalars and lone
    surrogates.

    The events come from a parser mixed in below (see :data:`LOADERS`): libyaml's when PyYAML was
    built with it (scanning and parsing in C, several times faster than PyYAML's own), else
    PyYAML's own. Composition stays in Python either way, which is where the checks live.
    """

    def _start(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._path: list[str] = []
        self._depth = 0
        self._expanded = 0
        self._weights: dict[str, int] = {}

    def _where(self) -> str:
        if len(self._path) > _SHOWN_PARTS:
            return ".".join([*self._path[:2], "...", *self._path[-3:]])
        return ".".join(self._path) or "<root>"

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        events: Any = self  # the parser half of the class supplies check_event/peek_event
        event = events.peek_event()
        if isinstance(event, yaml.AliasEvent):
            return self._compose_alias(parent, index, event)
        if self._depth >= MAX_DEPTH:
            raise YAMLRefused(
                event.start_mark,
                self._where(),
                f"nesting deeper than {MAX_DEPTH} levels",
                f"at most {MAX_DEPTH} nested levels",
            )
        step = _step(index)
        if step is not None:
            self._path.append(step)
        self._depth += 1
        before = self._expanded
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if step is not None:
                self._path.pop()
        self._count(1, event)
        if event.anchor is not None:
            self._weights[event.anchor] = self._expanded - before
        return node

    def _compose_alias(self, parent: Node | None, index: Any, event: Any) -> Node | None:
        """The anchored node, counted as many nodes as it expands to."""
        node = super().compose_node(parent, index)  # raises for an undefined alias
        weight = self._weights.get(event.anchor)
        if weight is None:
            raise YAMLRefused(
                event.start_mark,
                self._where(),
                clip(f"*{event.anchor}"),
                "an alias to a finished node (this one refers to a node that contains it)",
            )
        self._count(weight, event)
        return node

    def _count(self, nodes: int, event: Any) -> None:
        self._expanded += nodes
        if self._expanded > MAX_EXPANDED_NODES:
            raise YAMLRefused(
                event.start_mark,
                self._where(),
                f"more than {MAX_EXPANDED_NODES:,} nodes with aliases expanded",
                f"at most {MAX_EXPANDED_NODES:,} nodes once every alias is expanded",
            )

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = key_node.value if key_node.tag == _STR_TAG else self.construct_object(key_node)
            if key in seen:
                where = ".".join([*self._path, shorten(str(key), _SHOWN_KEY)])
                raise YAMLRefused(
                    key_node.start_mark,
                    where,
                    clip(key),
                    "each key once per mapping (a second one would silently replace the first)",
                )
            seen.add(key)
        return node

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return int(super().construct_yaml_int(node))
        except ValueError as exc:  # Python refuses to parse more than 4,300 digits
            raise YAMLRefused(
                node.start_mark,
                self._where(),
                clip(node.value),
                "an integer of at most 4,300 digits",
            ) from exc

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise YAMLRefused(
                node.start_mark, self._where(), clip(node.value), f"a real date ({exc})"
            ) from exc

    def construct_yaml_str(self, node: ScalarNode) -> str:
        value = self.construct_scalar(node)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise YAMLRefused(
                node.start_mark,
                self._where(),
                clip(value.encode("utf-8", "backslashreplace").decode("ascii", "replace")),
                "text without lone surrogates (\\ud800-\\udfff escapes encode no character)",
            ) from exc
        return str(value)


_BoundedComposer.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    _STR_TAG: _BoundedComposer.construct_yaml_str,
    _INT_TAG: _BoundedComposer.construct_yaml_int,
    _TIMESTAMP_TAG: _BoundedComposer.construct_yaml_timestamp,
}


def _python_loader() -> Callable[[str], Any]:
    class _PyLoader(Reader, Scanner, Parser, _BoundedComposer):
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            self._start()

    return _PyLoader


def _libyaml_loader() -> Callable[[str], Any] | None:
    try:
        from yaml._yaml import CParser
    except ImportError:
        return None

    class _CLoader(_BoundedComposer, CParser):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            self._start()

    return _CLoader


LOADERS: dict[str, Callable[[str], Any]] = {"python": _python_loader()}
"""The bounded loaders this interpreter has: ``python`` always, ``libyaml`` when PyYAML was
built with it (the one :func:`parse_yaml` prefers)."""
_libyaml = _libyaml_loader()
if _libyaml is not None:
    LOADERS["libyaml"] = _libyaml


def _step(index: Any) -> str | None:
    """The path part a child node adds: its key (mapping values) or position (sequences)."""
    if isinstance(index, ScalarNode):
        return shorten(str(index.value), _SHOWN_KEY)
    if isinstance(index, int):
        return str(index)
    return None


def parse_yaml(text: str, loader: str | None = None) -> Any:
    """The single YAML document in ``text``, built only from what the bounded loader allows.

    Args:
        text: the document.
        loader: a key of :data:`LOADERS` (default: ``libyaml`` when present).

    Raises:
        YAMLRefused: an alias, nesting beyond :data:`MAX_DEPTH`, a duplicate key, a scalar
            that cannot be built (impossible date, oversized integer) or a lone surrogate.
        yaml.YAMLError: the text is not valid YAML.
    """
    chosen = LOADERS[loader or ("libyaml" if "libyaml" in LOADERS else "python")](text)
    try:
        return chosen.get_single_data()
    finally:
        chosen.dispose()
