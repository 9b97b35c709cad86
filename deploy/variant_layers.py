"""Variant layering: `extends:` chains and `--set path=value` overrides, on the raw YAML data.

Contract:
- `resolve_layers(path)` reads a variant file and, while it has `extends: <parent>`, the parent
  (a variant name looked up beside the file and then in `deploy/variants/`, or a relative/absolute
  path ending in `.yaml`), and merges them: mappings merge key by key (the child wins), any other
  value is replaced, except `patches`, which are concatenated (parent's first), because a patch is
  an operation, not a setting. `name` and `description` are never inherited. A cycle, a missing
  parent or a non-mapping document is a `SpecError` naming the file and `extends`.
- `apply_overrides(data, overrides, source)` applies `a.b.c=value` strings: the value is parsed as
  YAML (`1`, `true`, `[cpu]`, `{delay_ms: 5}`, `"1"`), intermediate mappings are created, and
  `a.b=null` removes the key (back to the base manifests' value). A malformed override is a
  `SpecError` on `--set`.
The result is plain data for `Variant` validation; errors from validation then carry the field
path, and the file they came from is the child's (the layering is part of that variant).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hpabench.errors import SpecError, SpecIssue
from hpabench.specio import read_yaml

VARIANTS_DIR = Path(__file__).resolve().parent / "variants"
MAX_DEPTH = 16
NOT_INHERITED = ("name", "description", "extends")


def find_variant_file(ref: str, beside: Path | None = None) -> Path | None:
    """A variant by name (`hpa-target-50`) or path (`x.yaml`): beside `beside`, then the catalogue."""
    candidates: list[Path] = []
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = Path(ref)
        candidates.append(path if path.is_absolute() or beside is None else beside / path)
        candidates.append(path)
    else:
        if beside is not None:
            candidates.append(beside / f"{ref}.yaml")
        candidates.append(VARIANTS_DIR / f"{ref}.yaml")
    return next((c for c in candidates if c.is_file()), None)


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """`child` over `parent`; see the module docstring (pure, inputs untouched)."""
    merged: dict[str, Any] = dict(parent)
    for key, value in child.items():
        if key == "patches" and isinstance(value, list) and isinstance(parent.get(key), list):
            merged[key] = [*parent[key], *value]
        elif isinstance(value, dict) and isinstance(parent.get(key), dict):
            merged[key] = merge(parent[key], value)
        else:
            merged[key] = value
    return merged


def resolve_layers(path: str | Path) -> dict[str, Any]:
    """The variant at `path` with its `extends` chain merged in (see the module docstring)."""
    file = str(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        return data  # type: ignore[no-any-return]  # validation reports the shape
    chain = [Path(path).resolve()]
    layers = [data]
    current, current_file = data, Path(path)
    while "extends" in current:
        ref = current["extends"]
        where = str(current_file)
        if not isinstance(ref, str) or not ref.strip():
            raise SpecError(SpecIssue(where, "extends", "must be a variant name or a path to a variant file"))
        parent_file = find_variant_file(ref, current_file.parent)
        if parent_file is None:
            raise SpecError(
                SpecIssue(where, "extends", f"no variant {ref!r} beside {current_file.parent} or in {VARIANTS_DIR}")
            )
        if parent_file.resolve() in chain:
            cycle = " -> ".join(p.stem for p in [*chain, parent_file.resolve()])
            raise SpecError(SpecIssue(file, "extends", f"variants extend each other in a cycle: {cycle}"))
        if len(chain) >= MAX_DEPTH:
            raise SpecError(SpecIssue(file, "extends", f"more than {MAX_DEPTH} levels of extends"))
        parent = read_yaml(parent_file)
        if not isinstance(parent, dict):
            raise SpecError(SpecIssue(str(parent_file), "", "a variant file must be a mapping"))
        chain.append(parent_file.resolve())
        layers.append(parent)
        current, current_file = parent, parent_file
    merged: dict[str, Any] = {}
    for layer in reversed(layers[1:]):
        merged = merge(merged, {k: v for k, v in layer.items() if k not in NOT_INHERITED})
    own = {k: v for k, v in data.items() if k != "extends"}
    result = merge(merged, own)
    if len(layers) > 1:
        result["extends"] = [p.stem for p in chain[1:]]
    return result


def parse_override(text: str) -> tuple[list[str], Any]:
    """`web.resources.limits.cpu=1` → (["web", "resources", "limits", "cpu"], 1). ValueError if malformed."""
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip() or any(not p.strip() for p in parts):
        raise ValueError(f"{text!r} is not path=value (e.g. web.resources.limits.cpu=1)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ValueError(f"{text!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return [p.strip() for p in parts], value


def apply_overrides(data: Any, overrides: Sequence[str], source: str = "--set") -> Any:
    """`data` with every override applied (a new top-level dict; see the module docstring)."""
    if not overrides:
        return data
    if not isinstance(data, dict):
        return data
    result = merge({}, data)
    issues = []
    for text in overrides:
        try:
            parts, value = parse_override(text)
        except ValueError as exc:
            issues.append(SpecIssue(source, "", str(exc)))
            continue
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                issues.append(SpecIssue(source, ".".join(parts[: depth + 1]), f"is {child!r}, not a mapping"))
                break
            else:
                child = node[part] = dict(child)
            node = child
        else:
            if value is None:
                node.pop(parts[-1], None)
            else:
                node[parts[-1]] = value
    if issues:
        raise SpecError(issues, headline="invalid --set overrides:")
    result["overrides"] = [*(data.get("overrides") or []), *overrides]
    return result
