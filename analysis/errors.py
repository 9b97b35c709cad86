"""Why requests failed: the top errors (status, route, count), and when errors drown the latency.

The Locust recorder appends `data/errors.<process>.jsonl` rows while the load runs — one per
(method, route, status, error) and flush: `ts`, `process`, `method`, `route`, `status` (HTTP
status, null for a connection error or timeout), `error` (Locust's message without the URL),
`count` (failures since the previous row). `read_errors(data_dir)` merges every process's file
into one frame; `top_errors(frame, n)` is pure and sums it to the `n` most frequent errors.

`errors_dominate(requests, failures)`: at `ERRORS_DOMINATE_RATIO` (50 %) of requests failed or
more, the run's latency percentiles mostly describe failures (a 404 is fast, a refused
connection instant), so its latency is meaningless as a measure of the system: the summary gets
the flag `errors_dominate` and a note naming the top error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pandas as pd

from hpabench.analysis.rundata import read_jsonl

ERRORS_DOMINATE_RATIO = 0.5
FLAG_ERRORS_DOMINATE = "errors_dominate"
TOP_N = 5
COLUMNS = ("ts", "process", "method", "route", "status", "error", "count")


def read_errors(data_dir: Path) -> pd.DataFrame:
    """Every process's error rows (COLUMNS); empty when no request failed. Torn lines are skipped."""
    frames = [read_jsonl(path) for path in sorted(Path(data_dir).glob("errors.*.jsonl"))]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True).reindex(columns=list(COLUMNS))


def top_errors(frame: pd.DataFrame, n: int = TOP_N) -> list[dict[str, Any]]:
    """The `n` most frequent errors: [{status, method, route, error, count, share}] (share of all failures)."""
    if frame.empty:
        return []
    keyed = frame.assign(status=frame["status"].astype("object").where(frame["status"].notna(), None))
    grouped = (
        keyed.groupby(["status", "method", "route", "error"], dropna=False)["count"].sum().sort_values(ascending=False)
    )
    total = float(grouped.sum()) or 1.0
    found = []
    for key, count in grouped.head(n).items():
        status, method, route, error = cast(tuple[Any, Any, Any, Any], key)
        found.append(
            {
                "status": int(status) if status is not None and not pd.isna(status) else None,
                "method": str(method),
                "route": str(route),
                "error": str(error),
                "count": int(count),
                "share": round(float(count) / total, 4),
            }
        )
    return found


def errors_dominate(requests: int, failures: int) -> bool:
    return requests > 0 and failures / requests >= ERRORS_DOMINATE_RATIO


def describe(error: dict[str, Any]) -> str:
    """`404 GET /items/{id}: 1234× (98 %) — 404 Client Error: Not Found` (one console/report line)."""
    status = error["status"] if error["status"] is not None else "no response"
    return f"{status} {error['method']} {error['route']}: {error['count']}× ({error['share']:.0%}) — {error['error']}"


def errors_note(requests: int, failures: int, top: list[dict[str, Any]]) -> str:
    """The summary note for a run whose errors dominate (see module doc)."""
    cause = f"; top error: {describe(top[0])}" if top else ""
    return f"{failures / requests:.0%} of requests failed: latency percentiles describe failures, not the system{cause}"


def annotate_summary(summary: dict[str, Any], frame: pd.DataFrame, requests: int, failures: int) -> None:
    """Add `top_errors` (always present, maybe empty), and the flag + note when errors dominate."""
    top = top_errors(frame)
    summary["top_errors"] = top
    if errors_dominate(requests, failures):
        summary["flags"] = sorted(set(summary.get("flags") or []) | {FLAG_ERRORS_DOMINATE})
        summary["notes"] = [*summary.get("notes", []), errors_note(requests, failures, top)]
