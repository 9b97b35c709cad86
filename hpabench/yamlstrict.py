"""A strict YAML loader for user input: plain data only, every surprise refused with its line.

Contract of `parse_yaml(text, file)` / `parse_yaml_all(text, file)`: the YAML safe subset
(mappings, sequences, strings, numbers, booleans, null) as plain Python data, or a `SpecError`
whose issue names the file, `line L, column C` and the problem. On top of `yaml.safe_load`:

- a key given twice in one mapping is an error (YAML says keys are unique; PyYAML lets the last
  one silently win, which hides typos like two `duration_s:` lines);
- `!!binary`, `!!set`, `!!omap`, `!!pairs` are refused (no field of ours takes them);
  timestamps stay the strings they were written as (`2026-01-01` is a name, not a date);
- nesting deeper than `MAX_DEPTH` is refused while composing, so a hostile file cannot exhaust
  the interpreter's stack (PyYAML's composer recurses per level);
- aliases are bounded: a document whose aliases expand to more than `MAX_NODES` values (the
  "billion laughs" shape) or refer to themselves is refused before anything is constructed.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError
from yaml.nodes import CollectionNode, MappingNode, Node

from hpabench.errors import SpecError, SpecIssue
from hpabench.inputfile import MAX_DEPTH

MAX_NODES = 200_000
_REFUSED_TAGS = ("binary", "set", "omap", "pairs")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refusal(yaml.YAMLError):
    """A structural refusal (depth, size, alias cycle) with the mark where it was found."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class StrictLoader(yaml.SafeLoader):
    """SafeLoader + the refusals of the module docstring."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refusal(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:
                raise ConstructorError(None, None, "a mapping key must be a scalar", key_node.start_mark) from None
            if seen is not None:
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {seen})", key_node.start_mark
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _refuse(loader: StrictLoader, node: Node) -> Any:
    raise ConstructorError(None, None, f"the tag {node.tag} is not accepted here", node.start_mark)


def _timestamp_as_text(loader: StrictLoader, node: Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in _REFUSED_TAGS:
    StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def check_expansion(root: Node) -> None:
    """Refuse a node graph that expands (through aliases) past MAX_NODES values or MAX_DEPTH
    levels, or that contains itself. Iterative, each distinct node visited once."""
    sizes: dict[int, tuple[int, int]] = {}  # id → (expanded values, expanded depth)
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if not isinstance(node, CollectionNode):
            sizes[key] = (1, 0)
            continue
        children: list[Node] = (
            [part for pair in node.value for part in pair] if isinstance(node, MappingNode) else list(node.value)
        )
        if children_done:
            active.discard(key)
            total = 1 + sum(sizes[id(c)][0] for c in children)
            depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
            if total > MAX_NODES:
                raise _Refusal(f"expands to more than {MAX_NODES} values (through aliases)", node.start_mark)
            if depth > MAX_DEPTH:
                raise _Refusal(f"nested more than {MAX_DEPTH} levels deep (through aliases)", node.start_mark)
            sizes[key] = (total, depth)
            continue
        if key in sizes:
            continue
        if key in active:
            raise _Refusal("an alias refers to the collection that contains it", node.start_mark)
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def yaml_issue(exc: yaml.YAMLError, file: str) -> SpecIssue:
    """A YAML error as an issue naming the line and column."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return SpecIssue(file, where, f"invalid YAML: {problem}")


def parse_yaml_all(text: str, file: str) -> list[Any]:
    """Every document of `text` as plain data (see the module docstring)."""
    loader = StrictLoader(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                documents.append(None)
                continue
            check_expansion(node)
            documents.append(loader.construct_document(node))
    except yaml.YAMLError as exc:
        raise SpecError(yaml_issue(exc, file)) from None
    except RecursionError:
        raise SpecError(SpecIssue(file, "", f"invalid YAML: nested more than {MAX_DEPTH} levels deep")) from None
    finally:
        loader.dispose()
    return documents


def parse_yaml(text: str, file: str) -> Any:
    """The single document of `text` (None when empty); more than one document is an error."""
    documents = parse_yaml_all(text, file)
    if len(documents) > 1:
        raise SpecError(SpecIssue(file, "", f"holds {len(documents)} YAML documents; expected one"))
    return documents[0] if documents else None
