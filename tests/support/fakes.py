"""Honest fakes for the pipeline's seams: a target, a load driver and a reporter.

They emulate only the contracts in `hpabench.target` and `hpabench.pipeline.LoadDriver`: what was
called, in which order, and failures or Ctrl-C injected at a named step. Nothing here pretends to
serve HTTP or Prometheus (the fake Prometheus URL refuses connections, so collection records
"not collected" for every query, as it would against a dead server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench.errors import LoadDriverError, SpecIssue, TargetError
from hpabench.rundir import RunDir
from hpabench.target import Progress, ReplicaView, TargetOptions

# Port 1 on loopback: nothing listens there, so a connection is refused at once.
REFUSING_URL = "http://127.0.0.1:1"


@dataclass
class Calls:
    """Everything the fakes saw, in order: ("admit"|"start"|"stop"|"drive"|"report", detail)."""

    log: list[tuple[str, Any]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.log]


class FakeDeployed:
    def __init__(self, calls: Calls, fail_stop: bool = False) -> None:
        self.calls = calls
        self.fail_stop = fail_stop
        self.stopped = 0

    service_url = REFUSING_URL
    prometheus_url = REFUSING_URL
    namespace = "fake"
    load_hosts = ("127.0.0.1",)

    def replicas(self, workload: str = "web") -> ReplicaView:
        return ReplicaView(spec_replicas=1, ready_replicas=1)

    def stop(self) -> None:
        self.stopped += 1
        self.calls.log.append(("stop", self.stopped))
        if self.fail_stop:
            raise KeyboardInterrupt("a second Ctrl-C during teardown")


class FakeTarget:
    """`fail_at`: "start" raises TargetError, "start-interrupt" raises KeyboardInterrupt in start."""

    name = "fake"

    def __init__(
        self, calls: Calls, *, issues: list[SpecIssue] | None = None, fail_at: str | None = None, **kw: Any
    ) -> None:
        self.calls = calls
        self.issues = issues or []
        self.fail_at = fail_at
        self.deployed = FakeDeployed(calls, fail_stop=kw.get("fail_stop", False))
        self.options: TargetOptions | None = None

    def factory(self, options: TargetOptions) -> FakeTarget:
        self.options = options
        return self

    def admit(self, objects: list[dict[str, Any]]) -> list[SpecIssue]:
        self.calls.log.append(("admit", len(objects)))
        return self.issues

    def start(self, objects: list[dict[str, Any]], run: RunDir, progress: Progress) -> FakeDeployed:
        self.calls.log.append(("start", run.path))
        if self.fail_at == "start":
            raise TargetError(
                "prometheus exited during start-up (exit code 1): bad flag [log: /x/prometheus.log]\ntail"
            )
        if self.fail_at == "start-interrupt":
            raise KeyboardInterrupt
        return self.deployed


@dataclass(frozen=True)
class FakeResult:
    started_at: float
    ended_at: float
    interrupted: bool
    flags: list[str]


class FakeDriver:
    """`outcome`: "ok", "interrupted" (the driver saw Ctrl-C), "error" (LoadDriverError)."""

    def __init__(self, calls: Calls, outcome: str = "ok", flags: list[str] | None = None) -> None:
        self.calls = calls
        self.outcome = outcome
        self.flags = flags or []
        self.config: Any = None

    def __call__(self, config: Any, progress: Any = None) -> FakeResult:
        import time

        self.config = config
        self.calls.log.append(("drive", config.host))
        if self.outcome == "error":
            raise LoadDriverError("Locust exited with code 1")
        now = time.time()
        return FakeResult(now - 2.0, now, self.outcome == "interrupted", self.flags)


class FakeReporter:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def __call__(self, run_path: Path, console: Any = None) -> Path:
        self.calls.log.append(("report", run_path))
        report = run_path / "report.html"
        report.write_text("<html>fake</html>")
        return report


class FakeCollector:
    """Stands in for the Prometheus collection: records the window it was asked for, writes nothing."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def __call__(self, data_dir: Path, prometheus_url: str, start_ts: float, end_ts: float, **_: Any) -> Any:
        from hpabench.analysis.collect import CollectResult

        self.calls.log.append(("collect", (start_ts, end_ts)))
        return CollectResult()
