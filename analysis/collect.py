"""Collection: run the metric profile's range queries against Prometheus into tidy parquet files.

`collect(data_dir, prometheus_url, start_ts, end_ts)` evaluates every query of the profile over
[start_ts, end_ts] (unix seconds) at `step_s` resolution through Prometheus' HTTP API
(`prometheus-api-client`'s `custom_query_range`) and writes `data_dir/prom/<name>.parquet` with
columns `ts` (unix s, float), `value` (float; NaN/±Inf kept) and one column per series label
(`__name__` included when the query keeps it; a label literally called `ts`/`value` is renamed
`label_ts`/`label_value`). A query with no series writes an empty frame (`ts`, `value`) so a
reader can tell "collected, nothing there" from "not collected".

Long ranges are split into chunks of at most `MAX_POINTS_PER_QUERY` steps, under Prometheus'
11,000 points-per-series limit. A query that fails (bad PromQL, HTTP error, timeout) is recorded
in `CollectResult.warnings` and does not stop the others; only an unusable profile (SpecError) or
an unwritable `data_dir` raises. Every request is bounded by `timeout_s` (two quick retries on
connection errors and 5xx) and the whole collection by `deadline_s`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from hpabench.analysis.profile import load_profile, render_queries

MAX_POINTS_PER_QUERY = 10_000
"""Steps per request; Prometheus refuses more than 11,000 points per series."""
RESERVED_COLUMNS = ("ts", "value")


class RangeQuerier(Protocol):
    """What collection needs from a Prometheus client (PrometheusConnect satisfies it)."""

    def custom_query_range(
        self, query: str, start_time: datetime, end_time: datetime, step: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class CollectResult:
    """Files written (query name → path) and one human-readable warning per failed/empty query.

    Iterating a CollectResult yields its warnings (what the pipeline prints and logs).
    """

    paths: dict[str, Path] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[str]:
        return iter(self.warnings)

    def __len__(self) -> int:
        return len(self.warnings)


def chunk_ranges(
    start_ts: float, end_ts: float, step_s: float, max_points: int = MAX_POINTS_PER_QUERY
) -> list[tuple[float, float]]:
    """Split [start_ts, end_ts] into consecutive ranges of at most `max_points` evaluation steps.

    Chunks are aligned on whole steps from `start_ts` and do not overlap (the next chunk starts
    one step after the previous end), so no timestamp is evaluated twice.
    """
    if step_s <= 0 or not math.isfinite(step_s):
        raise ValueError(f"step_s must be a positive number, got {step_s}")
    if end_ts < start_ts:
        raise ValueError("end_ts is before start_ts")
    total_steps = math.floor((end_ts - start_ts) / step_s + 1e-9)
    chunks = []
    first = 0
    while first <= total_steps:
        last = min(first + max_points - 1, total_steps)
        chunks.append((start_ts + first * step_s, start_ts + last * step_s))
        first = last + 1
    return chunks


def _to_float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def tidy_series(result: list[dict[str, Any]]) -> pd.DataFrame:
    """Prometheus matrix result → frame `ts`, `value`, one column per label (missing label: None)."""
    label_names: list[str] = []
    for series in result:
        for name in series.get("metric", {}):
            column = f"label_{name}" if name in RESERVED_COLUMNS else name
            if column not in label_names:
                label_names.append(column)
    ts: list[float] = []
    values: list[float] = []
    labels: dict[str, list[Any]] = {name: [] for name in label_names}
    for series in result:
        metric = {(f"label_{k}" if k in RESERVED_COLUMNS else k): v for k, v in series.get("metric", {}).items()}
        samples = series.get("values") or ([series["value"]] if "value" in series else [])
        for sample in samples:
            ts.append(_to_float(sample[0]))
            values.append(_to_float(sample[1]))
        for name in label_names:
            labels[name].extend([metric.get(name)] * len(samples))
    frame = pd.DataFrame({"ts": pd.Series(ts, dtype=float), "value": pd.Series(values, dtype=float)})
    for name in label_names:
        frame[name] = pd.Series(labels[name], dtype=object)
    return frame


def query_range_chunked(
    client: RangeQuerier, query: str, start_ts: float, end_ts: float, step_s: float, timeout_s: float
) -> pd.DataFrame:
    """Evaluate `query` over the range in chunks and return one tidy frame (sorted, deduplicated)."""
    parts = []
    for chunk_start, chunk_end in chunk_ranges(start_ts, end_ts, step_s):
        result = client.custom_query_range(
            query,
            start_time=datetime.fromtimestamp(chunk_start, tz=UTC),
            end_time=datetime.fromtimestamp(chunk_end, tz=UTC),
            step=f"{step_s:g}",
            params={"timeout": f"{timeout_s:g}s"},
        )
        parts.append(tidy_series(result))
    frames = [p for p in parts if not p.empty]
    if not frames:
        return parts[0] if parts else tidy_series([])
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    label_columns = [c for c in frame.columns if c not in RESERVED_COLUMNS]
    frame = frame.drop_duplicates(subset=["ts", *label_columns], keep="first")
    return frame.sort_values(["ts", *label_columns], kind="stable").reset_index(drop=True)


def default_client(prometheus_url: str, timeout_s: float) -> RangeQuerier:
    """A PrometheusConnect with bounded retries (connection errors and 5xx, quick back-off)."""
    from prometheus_api_client import PrometheusConnect
    from urllib3.util.retry import Retry

    retry = Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504], allowed_methods=None)
    client: RangeQuerier = PrometheusConnect(
        url=prometheus_url.rstrip("/"),
        disable_ssl=True,
        retry=retry,
        timeout=timeout_s,
        method="POST",  # long PromQL stays out of the URL
    )
    return client


def collect(
    data_dir: Path,
    prometheus_url: str,
    start_ts: float,
    end_ts: float,
    profile_path: Path | None = None,
    step_s: float = 1.0,
    *,
    variables: Mapping[str, str] | None = None,
    client: RangeQuerier | None = None,
    timeout_s: float = 30.0,
    deadline_s: float = 300.0,
) -> CollectResult:
    """Collect every query of the profile (default: `profiles/default.yaml`) into `data_dir/prom/`.

    `variables` override the profile's placeholders (e.g. `{"window": "60s"}`); `client` replaces
    the HTTP client (tests). `deadline_s` bounds the whole collection: queries not started by
    then are recorded as not collected. Returns a CollectResult (see the module docstring).
    """
    give_up_at = time.monotonic() + deadline_s
    # prometheus-api-client sends whole seconds; align so chunk boundaries stay on the step grid.
    start_ts, end_ts = math.floor(start_ts), math.ceil(end_ts)
    profile = load_profile(profile_path)
    queries = render_queries(profile, variables)
    prom_dir = Path(data_dir) / "prom"
    prom_dir.mkdir(parents=True, exist_ok=True)
    if client is None:
        client = default_client(prometheus_url, timeout_s)
    paths: dict[str, Path] = {}
    warnings: list[str] = []
    empty: list[str] = []
    try:
        for name, query in queries.items():
            if time.monotonic() > give_up_at:
                warnings.append(f"metric {name!r} not collected: collection deadline of {deadline_s:g} s passed")
                continue
            try:
                frame = query_range_chunked(client, query, start_ts, end_ts, step_s, timeout_s)
            except Exception as exc:  # one broken query must not lose the others (recorded, not hidden)
                warnings.append(f"metric {name!r} not collected: {type(exc).__name__}: {_short(exc)}")
                continue
            if frame.empty:
                empty.append(name)
                warnings.append(f"metric {name!r}: no data in the run window")
            path = prom_dir / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            paths[name] = path
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
    return CollectResult(paths=paths, warnings=tuple(warnings), empty=tuple(empty))


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
