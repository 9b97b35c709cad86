"""Inside a throwaway subprocess: find a user's LoadTestShape and tabulate its plan.

    python -m hpabench.scenarios.drive.shape_probe --locustfile F --max-duration-s S --out plan.json

Imports the locustfile the way Locust does (so gevent's monkey-patching stays in this process),
takes the LoadTestShape subclass it defines (not hpabench's own), and calls its `tick()` with a
simulated clock — `get_run_time()` returns k + 0.5 for run second k, `get_current_user_count()`
the previous tick's users — until it returns None or `max_duration_s` passes. The shape's
stage boundaries come from a `stages` list of dicts with a cumulative `duration` (Locust's
examples' convention), else from `hpabench_stages` [(name, end_s)], else the whole shape is one
stage named after the class. Output (JSON): `shape`, `locustfile`, `duration_s`, `ends` (tick
returned None within the bound), `rows` [{t_s, stage, users}], `stages` [{name, start_s, end_s}].
Writes `{"shape": null}` when the file brings no shape.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

MAX_STAGES = 200


def _stage_bounds(shape: Any, name: str) -> list[tuple[str, float]]:
    """[(stage name, end_s)] from the shape's own description of its stages (see module doc)."""
    stages = getattr(shape, "stages", None)
    if isinstance(stages, list | tuple) and stages and all(isinstance(s, dict) and "duration" in s for s in stages):
        return [(str(s.get("name") or f"stage-{i + 1}"), float(s["duration"])) for i, s in enumerate(stages)]
    own = getattr(shape, "hpabench_stages", None)
    if isinstance(own, list | tuple) and own:
        return [(str(n), float(end)) for n, end in own]
    return [(name, float("inf"))]


def probe(locustfile: Path, max_duration_s: float) -> dict[str, Any]:
    from locust import LoadTestShape

    spec = importlib.util.spec_from_file_location("hpabench_user_locustfile", locustfile)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {locustfile}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(locustfile.parent))
    spec.loader.exec_module(module)
    shapes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, LoadTestShape)
        and value is not LoadTestShape
        and not value.__dict__.get("abstract", False)
        and not value.__module__.startswith("hpabench.")
    ]
    if not shapes:
        return {"shape": None, "locustfile": str(locustfile)}
    cls = shapes[0]
    shape = cls()
    clock = {"t": 0.0, "users": 0}
    shape.get_run_time = lambda: clock["t"]  # type: ignore[method-assign]
    shape.get_current_user_count = lambda: clock["users"]  # type: ignore[method-assign]
    bounds = _stage_bounds(shape, cls.__name__)[:MAX_STAGES]
    rows: list[dict[str, Any]] = []
    ends = False
    second = 0
    while second < max_duration_s:
        clock["t"] = second + 0.5
        result = shape.tick()
        if result is None:
            ends = True
            break
        users = int(result[0])
        clock["users"] = users
        stage = next((n for n, end in bounds if second + 0.5 < end), bounds[-1][0])
        rows.append({"t_s": float(second), "stage": stage, "users": users})
        second += 1
    duration_s = float(len(rows))
    stages: list[dict[str, Any]] = []
    for row in rows:
        if not stages or stages[-1]["name"] != row["stage"]:
            stages.append({"name": row["stage"], "start_s": row["t_s"], "end_s": row["t_s"] + 1.0})
        else:
            stages[-1]["end_s"] = row["t_s"] + 1.0
    return {
        "shape": cls.__name__,
        "locustfile": str(locustfile),
        "duration_s": duration_s,
        "ends": ends,
        "rows": rows,
        "stages": stages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tabulate a locustfile's LoadTestShape (used by hpabench run)")
    parser.add_argument("--locustfile", type=Path, required=True)
    parser.add_argument("--max-duration-s", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    plan = probe(args.locustfile.resolve(), args.max_duration_s)
    args.out.write_text(json.dumps(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
