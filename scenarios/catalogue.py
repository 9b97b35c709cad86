"""The scenario catalogue: shipped YAML profiles in `scenarios/catalogue/`, or a user's YAML file.

* `list_scenarios()` → `[(name, one-line description)]`, sorted by name.
* `load_scenario(name_or_path)` → a validated `Scenario`. A catalogue name or a path to a YAML
  file; errors name the file and field path (`SpecError`, exit 2); an unknown name lists the
  available ones. A `replay` shape's `trace` is read here (relative to the scenario file, then
  to `scenarios/traces/`) into `rates_rps`, so the returned spec is self-contained.
"""

from __future__ import annotations

from pathlib import Path

from hpabench.errors import SpecError, SpecIssue
from hpabench.scenarios.spec import Replay, Scenario
from hpabench.scenarios.traces import read_trace
from hpabench.specio import read_yaml, validate_data

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
TRACES_DIR = Path(__file__).resolve().parent / "traces"


def _catalogue_files() -> dict[str, Path]:
    return {path.stem: path for path in sorted(CATALOGUE_DIR.glob("*.yaml"))}


def _resolve_trace(trace: str, base_dir: Path) -> Path:
    candidate = Path(trace).expanduser()
    if candidate.is_absolute():
        return candidate
    for root in (base_dir, TRACES_DIR):
        if (root / candidate).exists():
            return root / candidate
    return base_dir / candidate  # not found: read_trace reports it with this path


def load_scenario_file(path: Path) -> Scenario:
    """Load and validate one scenario YAML file (see module docstring)."""
    file = str(path)
    data = read_yaml(path)
    scenario = validate_data(Scenario, data, file)
    shape = scenario.shape
    if isinstance(shape, Replay) and shape.trace is not None and shape.rates_rps is None:
        trace_path = _resolve_trace(shape.trace, path.parent)
        rates = read_trace(trace_path)
        resolved = {**scenario.model_dump(mode="json"), "shape": {**shape.model_dump(mode="json"), "rates_rps": rates}}
        scenario = validate_data(Scenario, resolved, file)
    return scenario


def _looks_like_path(name_or_path: str | Path) -> bool:
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or "/" in text or text.endswith((".yaml", ".yml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A catalogue scenario by name, or a user's scenario YAML by path (see module docstring)."""
    if _looks_like_path(name_or_path):
        return load_scenario_file(Path(name_or_path))
    files = _catalogue_files()
    name = str(name_or_path)
    if name not in files:
        available = ", ".join(files) or "(none)"
        raise SpecError(
            SpecIssue("scenario", name, f"unknown scenario; available: {available} (or give a path to a YAML file)")
        )
    scenario = load_scenario_file(files[name])
    if scenario.name != name:
        raise SpecError(SpecIssue(str(files[name]), "name", f"must be {name!r} (the file name) in the catalogue"))
    return scenario


def list_scenarios() -> list[tuple[str, str]]:
    """Every catalogue scenario as (name, one-line description), sorted by name."""
    return [(name, load_scenario_file(path).description) for name, path in _catalogue_files().items()]
