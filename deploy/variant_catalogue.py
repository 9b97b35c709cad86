"""The shipped variants (`deploy/variants/*.yaml`): listing and rendered differences.

Contract: `list_variants(directory)` → one `VariantInfo` per file, sorted by name, each loaded and
validated (a broken file raises its `SpecError`); `variant_ref(ref)` resolves a name or a path;
`diff_variants(a, b)` renders both and returns a unified diff of the rendered YAML, the
`hpabench.io/variant` annotation left out (it always differs and says nothing).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from hpabench.deploy.render import VARIANT_ANNOTATION, dump_yaml, render
from hpabench.deploy.variant import Variant, load_variant
from hpabench.deploy.variant_layers import VARIANTS_DIR, find_variant_file
from hpabench.errors import SpecError, SpecIssue


@dataclass(frozen=True)
class VariantInfo:
    name: str
    description: str
    extends: tuple[str, ...]
    path: Path


def variant_ref(ref: str | Path) -> Path:
    """A variant file from a catalogue name (`hpa-target-50`) or a path; SpecError if neither."""
    path = Path(ref)
    if path.is_file():
        return path
    found = find_variant_file(str(ref))
    if found is None:
        names = ", ".join(p.stem for p in sorted(VARIANTS_DIR.glob("*.yaml")))
        raise SpecError(SpecIssue(str(ref), "", f"no such variant file or catalogue name (catalogue: {names})"))
    return found


def list_variants(directory: Path = VARIANTS_DIR) -> list[VariantInfo]:
    """Every variant in `directory`, validated (see the module docstring)."""
    infos = []
    for path in sorted(directory.glob("*.yaml")):
        variant = load_variant(path)
        infos.append(VariantInfo(variant.name, variant.description, tuple(variant.extends), path))
    return sorted(infos, key=lambda info: info.name)


def _rendered_text(variant: Variant, image: str | None) -> list[str]:
    objects = render(variant, image=image)
    for obj in objects:
        (obj["metadata"].get("annotations") or {}).pop(VARIANT_ANNOTATION, None)
        if obj["metadata"].get("annotations") == {}:
            del obj["metadata"]["annotations"]
    return dump_yaml(objects).splitlines(keepends=True)


def diff_variants(a: Variant, b: Variant, image: str | None = None, context: int = 3) -> str:
    """Unified diff of the rendered objects of `a` → `b` ('' when they render the same)."""
    return "".join(difflib.unified_diff(_rendered_text(a, image), _rendered_text(b, image), a.name, b.name, n=context))
