# ruff: noqa: E501  (a table of cases: one case per line reads better than wrapped literals)
"""A generated corpus of malformed inputs, one `Case` per (malformation, command) pair.

Each case builds its files in a fresh workspace and returns the command line to run through
`hpabench.cli.main`; `mentions` are what the output must name (the file or option, and the field
path, line or byte), `codes` the acceptable exit codes. The kinds follow issue 9: tracebacks
(non-UTF-8, deep nesting, NaN times), unbounded work (FIFOs, devices, huge files, huge plans),
`run` deploying with bad input (locustfiles, command-line values, rendered objects a cluster
refuses), exit 0 on nonsense (booleans as numbers, `!!binary`, infinities, duplicate keys),
damaged run data, and misleading messages.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

X = "__X__"  # stands for the raw YAML token a case puts at one field


@dataclass
class Workspace:
    """A case's folder. `good_run` (a sound, completed run directory) and `baseline` (a sound
    baseline of its scenario) are copied in on first use, so cases that need neither stay cheap."""

    root: Path
    golden_run: Path
    golden_baseline: Path
    reports: Path  # where `run` would create run directories: must stay empty

    @property
    def good_run(self) -> Path:
        path = self.root / "_good"
        if not path.exists():
            shutil.copytree(self.golden_run, path)
        return path

    @property
    def baseline(self) -> Path:
        path = self.root / "_baseline.json"
        if not path.exists():
            shutil.copy(self.golden_baseline, path)
        return path

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def fifo(self, name: str) -> Path:
        path = self.root / name
        os.mkfifo(path)
        return path

    def run_copy(self, name: str) -> Path:
        target = self.root / name
        shutil.copytree(self.golden_run, target)
        return target


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Workspace], list[str]]
    mentions: tuple[str, ...]
    codes: tuple[int, ...] = (2,)


SCENARIO: dict[str, Any] = {
    "name": "corpus",
    "description": "A corpus scenario.",
    "warmup": {"duration_s": 5, "users": 2},
    "stages": [
        {"name": "one", "duration_s": 10, "users": 3},
        {"name": "two", "duration_s": 10, "rps": 5.0, "transition": "linear", "ramp_s": 5},
    ],
    "mix": {
        "hot_read": {"weight": 0.5, "ids": 10},
        "cold_read": {"weight": 0.2, "id_min": 1, "id_max": 100},
        "write": {"weight": 0.1, "id_max": 100, "quantity_max": 2},
        "cpu": {"weight": 0.2, "cost": 1000},
    },
    "think_time": {"distribution": "uniform", "mean_s": 0.5, "jitter": 0.5},
    "arrivals": {"concurrency_s": 2.0, "min_users": 2, "max_users": 20, "max_lag_s": 1.0},
    "slo": {"p95_ms": 400, "p99_ms": 800, "error_rate": 0.01},
    "seed": 3,
}
SCENARIO_NUMBERS = (
    "warmup.duration_s",
    "warmup.users",
    "stages.0.duration_s",
    "stages.0.users",
    "stages.1.rps",
    "stages.1.ramp_s",
    "mix.hot_read.weight",
    "mix.hot_read.ids",
    "mix.cold_read.id_max",
    "mix.write.quantity_max",
    "mix.cpu.cost",
    "think_time.mean_s",
    "think_time.jitter",
    "arrivals.concurrency_s",
    "arrivals.min_users",
    "arrivals.max_lag_s",
    "slo.p95_ms",
    "slo.error_rate",
    "seed",
)
SCENARIO_STRINGS = ("name", "description", "stages.0.name", "think_time.distribution")

VARIANT: dict[str, Any] = {
    "name": "corpus-variant",
    "description": "A corpus variant.",
    "web": {
        "replicas": 1,
        "concurrency": 8,
        "db_pool_max": 5,
        "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
    },
    "hpa": {"min_replicas": 1, "max_replicas": 3, "target_cpu_utilization": 60},
    "networking": {"max_conn_per_pod": 16},
    "controller": {"sync_period_s": 15, "tolerance": 0.1, "downscale_stabilization_s": 60},
    "slo": {"p95_ms": 300, "error_rate": 0.01},
}
VARIANT_INTS = (
    "web.replicas",
    "web.concurrency",
    "web.db_pool_max",
    "hpa.min_replicas",
    "hpa.max_replicas",
    "hpa.target_cpu_utilization",
    "networking.max_conn_per_pod",
)
VARIANT_FLOATS = (
    "controller.sync_period_s",
    "controller.tolerance",
    "controller.downscale_stabilization_s",
    "slo.p95_ms",
    "slo.error_rate",
)


def with_token(data: dict[str, Any], path: str, token: str) -> str:
    """YAML of `data` with the value at dotted `path` replaced by the raw YAML `token`."""
    copy = json.loads(json.dumps(data))
    node: Any = copy
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = X
    else:
        node[last] = X
    return yaml.safe_dump(copy, sort_keys=False).replace(X, token)


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def deep_yaml(depth: int) -> str:
    return "name: x\nmix: " + "[" * depth + "]" * depth + "\n"


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6)
)


# -- scenario files, through `scenarios show` and `run --dry-run` ---------------------------------
def _scenario_commands(name: str, content: Callable[[Workspace], Path | str | bytes]) -> list[Callable[..., list[str]]]:
    def file(ws: Workspace) -> str:
        made = content(ws)
        return str(made if isinstance(made, Path) else ws.write(name, made))

    return [
        lambda ws: ["scenarios", "show", file(ws)],
        lambda ws: ["run", "--scenario", file(ws), "--dry-run", "--reports-dir", str(ws.reports)],
    ]


def _scenario_cases(case_id: str, content: Callable[[Workspace], Path | str | bytes], *mentions: str) -> list[Case]:
    name = f"{case_id}.yaml"
    commands = _scenario_commands(name, content)
    return [
        Case(f"scenario-{case_id}-{cmd}", build, mentions) for cmd, build in zip(("show", "run"), commands, strict=True)
    ]


def scenario_cases() -> list[Case]:
    cases: list[Case] = []
    for path in SCENARIO_NUMBERS:
        for label, token in (("bool", "true"), ("inf", ".inf"), ("nan", ".nan"), ("word", '"fast"')):
            text = with_token(SCENARIO, path, token)
            cases += _scenario_cases(f"{path}-{label}", lambda ws, t=text: t, path)
    for path in SCENARIO_STRINGS:
        text = with_token(SCENARIO, path, "!!binary aGVsbG8=")
        cases += _scenario_cases(f"{path}-binary", lambda ws, t=text: t, "line", "binary")
    base = dump(SCENARIO)
    cases += _scenario_cases("dup-top", lambda ws: base + "name: again\n", "duplicate key 'name'", "line")
    cases += _scenario_cases(
        "dup-stage", lambda ws: base.replace("- name: one\n", "- name: one\n  name: uno\n"), "duplicate key", "line"
    )
    cases += _scenario_cases("dup-mix", lambda ws: base.replace("  cpu:\n", "  cpu: {}\n  cpu:\n"), "duplicate key")
    for offset in (0, 40, len(base.encode()) - 2):
        raw = base.encode()
        cases += _scenario_cases(
            f"utf8-{offset}", lambda ws, r=raw, o=offset: r[:o] + b"\xff\xfe" + r[o:], f"byte {offset}", "UTF-8"
        )
    for depth in (65, 500, 50_000):
        cases += _scenario_cases(f"deep-{depth}", lambda ws, d=depth: deep_yaml(d), "levels deep")
    cases += _scenario_cases("alias-bomb", lambda ws: ALIAS_BOMB, "aliases")
    week = {**SCENARIO, "stages": [{"name": f"s{i}", "duration_s": 604800, "users": 1} for i in range(1000)]}
    cases += _scenario_cases("1000-stages-x-7-days", lambda ws: dump(week), "7 days")
    many = {**SCENARIO, "stages": [{"name": f"s{i}", "duration_s": 1, "users": 1} for i in range(1001)]}
    cases += _scenario_cases("1001-stages", lambda ws: dump(many), "stages")
    diurnal = {**{k: v for k, v in SCENARIO.items() if k != "stages"}}
    diurnal["shape"] = {"kind": "diurnal", "low": 1, "high": 5, "period_s": 604800, "cycles": 1000}
    cases += _scenario_cases("diurnal-1000-weeks", lambda ws: dump(diurnal), "7 days")
    saw = {k: v for k, v in SCENARIO.items() if k != "stages"}
    saw["shape"] = {"kind": "sawtooth", "low": 1, "high": 5, "period_s": 3600, "teeth": 1000}
    cases += _scenario_cases("sawtooth-1000-hours", lambda ws: dump(saw), "7 days")
    for label, text in (("esc", "red \x1b[31mALERT"), ("cr", "over\rwrite"), ("bell", "ding\x07")):
        data = {**SCENARIO, "description": text}
        cases += _scenario_cases(f"control-{label}", lambda ws, d=data: dump(d), "description", "control characters")
    cases += _scenario_cases("unknown-top", lambda ws: base + "colour: red\n", "colour", "unknown field")
    cases += _scenario_cases(
        "unknown-stage", lambda ws: with_token(SCENARIO, "stages.0", "{name: a, durat1on_s: 3}"), "stages.0"
    )
    cases += _scenario_cases("not-a-mapping", lambda ws: "- a\n- b\n", "not-a-mapping.yaml")
    cases += _scenario_cases("two-documents", lambda ws: base + "---\n" + base, "documents")
    cases += _scenario_cases("fifo", lambda ws: ws.fifo("scenario.fifo"), "scenario.fifo", "FIFO")
    cases += _scenario_cases("dev-zero", lambda ws: Path("/dev/zero"), "/dev/zero", "device")
    cases += _scenario_cases("directory", lambda ws: ws.root, "directory")
    cases += _scenario_cases("huge", lambda ws: b"# " + b"x" * (2 * 1024 * 1024) + b"\n", "limit")
    return cases


# -- replay traces: the CSV file and its line are named, not the YAML field ------------------------
def trace_cases() -> list[Case]:
    header = "minute,rps\n"
    variants: list[tuple[str, Callable[[Workspace], Path], tuple[str, ...]]] = [
        ("word", lambda ws: ws.write("t.csv", header + "0,10\n1,abc\n"), ("t.csv", "line 3", "not a number")),
        ("negative", lambda ws: ws.write("t.csv", header + "0,-5\n"), ("t.csv", "line 2")),
        ("inf", lambda ws: ws.write("t.csv", header + "0,inf\n"), ("t.csv", "line 2", "finite")),
        ("nan", lambda ws: ws.write("t.csv", header + "0,nan\n1,3\n"), ("t.csv", "line 2", "finite")),
        ("too-high", lambda ws: ws.write("t.csv", header + "0,1\n1,2e6\n"), ("t.csv", "line 3")),
        ("utf8", lambda ws: ws.write("t.csv", header.encode() + b"0,\xff\n"), ("t.csv", "byte 13", "UTF-8")),
        ("nul", lambda ws: ws.write("t.csv", header + "0,1\x00\n"), ("t.csv", "line 2")),
        ("no-column", lambda ws: ws.write("t.csv", "minute,rate\n0,1\n"), ("t.csv", "line 1", "'rps'")),
        ("fifo", lambda ws: ws.fifo("t.csv"), ("t.csv", "FIFO")),
        ("rows", lambda ws: ws.write("t.csv", header + "0,1\n" * 100_001), ("t.csv", "rows")),
        ("missing", lambda ws: ws.root / "t.csv", ("t.csv", "not found")),
    ]
    cases = []
    for label, make, mentions in variants:
        scenario = {k: v for k, v in SCENARIO.items() if k != "stages"}
        scenario["shape"] = {"kind": "replay", "trace": "t.csv", "interval_s": 1}

        def content(ws: Workspace, make: Callable[[Workspace], Path] = make, s: dict[str, Any] = scenario) -> str:
            make(ws)
            return dump(s)

        cases += [
            Case(f"trace-{label}-{cmd}", build, mentions)
            for cmd, build in zip(("show", "run"), _scenario_commands("replay.yaml", content), strict=True)
        ]
    return cases


# -- variants, through `render --validate` and `run --dry-run` --------------------------------------
def _variant_cases(
    case_id: str, text: str | Callable[[Workspace], Path], mentions: tuple[str, ...], *, render: bool = True
) -> list[Case]:
    def file(ws: Workspace) -> str:
        return str(text(ws) if callable(text) else ws.write(f"{case_id}.yaml", text))

    cases = [
        Case(
            f"variant-{case_id}-run",
            lambda ws: [
                "run",
                "--scenario",
                "steady",
                "--variant",
                file(ws),
                "--dry-run",
                "--reports-dir",
                str(ws.reports),
            ],
            mentions,
        )
    ]
    if render:
        cases.append(
            Case(
                f"variant-{case_id}-render",
                lambda ws: ["render", "--variant", file(ws), "--validate", "1.33"],
                mentions,
            )
        )
    return cases


def _patch(kind: str, name: str, path: str, value: Any, op: str = "add") -> str:
    return dump({**VARIANT, "patches": [{"kind": kind, "name": name, "op": op, "path": path, "value": value}]})


def variant_cases() -> list[Case]:
    cases: list[Case] = []
    for path in VARIANT_INTS:
        cases += _variant_cases(f"{path}-bool", with_token(VARIANT, path, "true"), (path, "boolean"))
    for path in VARIANT_FLOATS:
        for label, token in (("inf", ".inf"), ("nan", ".nan")):
            cases += _variant_cases(f"{path}-{label}", with_token(VARIANT, path, token), (path, "finite"))
    for label, path, token in (
        ("cpu-1e400", "web.resources.requests.cpu", '"1e400"'),
        ("memory-huge", "web.resources.limits.memory", "99999999Ei"),
        ("cpu-word", "web.resources.limits.cpu", "lots"),
        ("cpu-negative", "web.resources.requests.cpu", '"-1"'),
    ):
        cases += _variant_cases(label, with_token(VARIANT, path, token), (path,))
    pod = "/spec/template/spec"
    for label, patch, mentions in (
        ("unknown-pod-field", _patch("Deployment", "web", f"{pod}/bogusField", 1), ("bogusField",)),
        ("unknown-container-field", _patch("Deployment", "web", f"{pod}/containers/0/colour", "red"), ("colour",)),
        ("replicas-minus-1", _patch("Deployment", "web", "/spec/replicas", -1, "replace"), ("spec.replicas",)),
        ("replicas-bool", _patch("Deployment", "web", "/spec/replicas", True, "replace"), ("spec.replicas",)),
        ("replicas-word", _patch("Deployment", "web", "/spec/replicas", "three", "replace"), ("spec.replicas",)),
        (
            "max-replicas-0",
            _patch("HorizontalPodAutoscaler", "web", "/spec/maxReplicas", 0, "replace"),
            ("maxReplicas",),
        ),
        ("min-replicas-0", _patch("HorizontalPodAutoscaler", "web", "/spec/minReplicas", 0), ("minReplicas",)),
        (
            "port-70000",
            _patch("Deployment", "web", f"{pod}/containers/0/ports/0/containerPort", 70000, "replace"),
            ("containerPort",),
        ),
        ("service-port-0", _patch("Service", "web", "/spec/ports/0/port", 0, "replace"), ("spec.ports.0.port",)),
        ("label-key", _patch("Deployment", "web", "/metadata/labels/bad key!", "x"), ("metadata.labels", "bad key!")),
        (
            "label-value",
            _patch("Deployment", "web", "/spec/template/metadata/labels/tier", "no spaces"),
            ("labels.tier",),
        ),
        (
            "container-name",
            _patch("Deployment", "web", f"{pod}/containers/0/name", "Web_1", "replace"),
            ("containers.0.name",),
        ),
        (
            "cpu-in-patch",
            _patch("Deployment", "web", f"{pod}/containers/0/resources/limits/cpu", "1e400", "replace"),
            ("resources.limits.cpu",),
        ),
        (
            "selector-mismatch",
            _patch("Deployment", "web", "/spec/selector/matchLabels", {"app.kubernetes.io/name": "other"}, "replace"),
            ("spec.selector",),
        ),
    ):
        cases += _variant_cases(label, patch, mentions)
    # A valid Kubernetes image the local target has no runtime for: only `run` refuses it.
    image = _patch("Deployment", "web", f"{pod}/containers/0/image", "nginx:1.27", "replace")
    cases += _variant_cases("image-without-local-runtime", image, ("nginx",), render=False)
    for label, value in (("word", "many"), ("zero", "0"), ("float", "2.5")):
        patch = _patch("ConfigMap", "web-config", "/data/DB_POOL_MAX", value, "replace")
        cases += _variant_cases(f"db-pool-max-{label}", patch, ("DB_POOL_MAX", "env"), render=False)
    promql = dump({**VARIANT, "controller": {"custom_metrics": {"rps": "sum((rate(x[1m]))"}}})
    cases += _variant_cases("custom-metric-promql", promql, ("controller.custom_metrics", "PromQL"))
    base = dump(VARIANT)
    cases += _variant_cases(
        "dup-key", base.replace("  replicas: 1\n", "  replicas: 1\n  replicas: 2\n"), ("duplicate key 'replicas'",)
    )
    cases += _variant_cases("utf8", lambda ws: ws.write("v.yaml", b"name: caf\xe9\n"), ("v.yaml", "byte 9"))
    cases += _variant_cases("fifo", lambda ws: ws.fifo("v.fifo"), ("v.fifo", "FIFO"))
    cases += _variant_cases("deep", deep_yaml(300), ("levels deep",))
    cases += _variant_cases(
        "control-description", dump({**VARIANT, "description": "x\x1b]0;pwned\x07"}), ("description",)
    )
    cases += _variant_cases("binary-name", with_token(VARIANT, "name", "!!binary aGVsbG8="), ("binary",))
    return cases


# -- thresholds and baselines, through `gate` --------------------------------------------------------
def _gate(
    ws: Workspace, *, baseline: Path | None = None, thresholds: Path | None = None, run: Path | None = None
) -> list[str]:
    argv = ["gate", str(run or ws.good_run), "--baseline", str(baseline or ws.baseline)]
    return argv + (["--thresholds", str(thresholds)] if thresholds else [])


def threshold_cases() -> list[Case]:
    def th(text: str | bytes) -> Callable[[Workspace], list[str]]:
        return lambda ws: _gate(ws, thresholds=ws.write("th.yaml", text))

    good = "version: 1\nthresholds:\n"
    return [
        Case("thresholds-1e400", th(good + '  - "p95_ms <= 1e400"\n'), ("th.yaml", "thresholds.0", "finite")),
        Case(
            "thresholds-inf", th(good + "  - {kpi: p95_ms, op: '<=', value: .inf}\n"), ("th.yaml", "thresholds.0.value")
        ),
        Case(
            "thresholds-bool",
            th(good + "  - {kpi: p95_ms, op: '<=', value: true}\n"),
            ("th.yaml", "thresholds.0.value"),
        ),
        Case("thresholds-op", th(good + '  - "p95_ms =< 3"\n'), ("th.yaml", "thresholds.0")),
        Case(
            "thresholds-dup", th("version: 1\nversion: 1\nthresholds: ['p95_ms < 1']\n"), ("th.yaml", "duplicate key")
        ),
        Case("thresholds-utf8", th(b"version: 1\nthresholds: ['p95_ms < \xff']\n"), ("th.yaml", "byte 34")),
        Case(
            "thresholds-unknown-kpi", th(good + '  - "fastness_ms < 3"\n'), ("th.yaml", "thresholds.0", "fastness_ms")
        ),
        Case(
            "thresholds-severity",
            th(good + "  - {kpi: p95_ms, op: '<', value: 3, severity: 5}\n"),
            ("th.yaml", "severity"),
        ),
        Case("thresholds-version-bool", th("version: true\nthresholds: ['p95_ms < 1']\n"), ("th.yaml", "version")),
        Case("thresholds-empty", th("version: 1\nthresholds: []\n"), ("th.yaml", "thresholds")),
        Case("thresholds-fifo", lambda ws: _gate(ws, thresholds=ws.fifo("th.fifo")), ("th.fifo", "FIFO")),
        Case("thresholds-dev-zero", lambda ws: _gate(ws, thresholds=Path("/dev/zero")), ("/dev/zero", "device")),
        Case("thresholds-deep", th(deep_yaml(100)), ("th.yaml", "levels deep")),
    ]


def _baseline_json(ws: Workspace, mutate: Callable[[dict[str, Any]], str | bytes]) -> Path:
    data = json.loads(ws.baseline.read_text())
    return ws.write("bl.json", mutate(data))


def _median(value: str) -> Callable[[dict[str, Any]], str]:
    def mutate(data: dict[str, Any]) -> str:
        data["kpis"]["p95_ms"]["median"] = X
        return json.dumps(data).replace(f'"{X}"', value)

    return mutate


def baseline_cases() -> list[Case]:
    def bl(mutate: Callable[[dict[str, Any]], str | bytes]) -> Callable[[Workspace], list[str]]:
        return lambda ws: _gate(ws, baseline=_baseline_json(ws, mutate))

    cases = [
        Case(f"baseline-median-{label}", bl(_median(token)), ("bl.json", "kpis.p95_ms.median"))
        for label, token in (
            ("nan", "NaN"),
            ("inf", "Infinity"),
            ("minus-inf", "-Infinity"),
            ("word", '"fast"'),
            ("bool", "true"),
        )
    ]
    cases += [
        Case(
            "baseline-n-bool",
            bl(lambda d: json.dumps({**d, "kpis": {"p95_ms": {**d["kpis"]["p95_ms"], "n": True}}})),
            ("bl.json", "kpis.p95_ms.n"),
        ),
        Case("baseline-kind", bl(lambda d: json.dumps({**d, "kind": "other"})), ("bl.json", "kind")),
        Case(
            "baseline-utf8",
            bl(lambda d: json.dumps(d).encode()[:20] + b"\xc3\x28" + json.dumps(d).encode()[20:]),
            ("bl.json", "byte 20"),
        ),
        Case("baseline-dup", bl(lambda d: '{"kind": "hpabench-baseline", "kind": "x"}'), ("bl.json", "duplicate key")),
        Case("baseline-truncated", bl(lambda d: json.dumps(d)[:-15]), ("bl.json", "invalid JSON")),
        Case("baseline-deep", bl(lambda d: "[" * 5000 + "]" * 5000), ("bl.json", "levels deep")),
        Case(
            "baseline-values-word",
            bl(lambda d: json.dumps({**d, "kpis": {"p95_ms": {**d["kpis"]["p95_ms"], "values": ["x"]}}})),
            ("bl.json", "kpis.p95_ms.values.0"),
        ),
        Case("baseline-fifo", lambda ws: _gate(ws, baseline=ws.fifo("bl.fifo")), ("bl.fifo", "FIFO")),
        Case("baseline-dev-zero", lambda ws: _gate(ws, baseline=Path("/dev/zero")), ("/dev/zero", "device")),
        Case("baseline-missing", lambda ws: _gate(ws, baseline=ws.root / "none.json"), ("none.json", "not found")),
        Case(
            "baseline-yaml-nan",
            lambda ws: _gate(
                ws,
                baseline=ws.write(
                    "bl.yaml",
                    yaml.safe_dump(json.loads(ws.baseline.read_text())).replace("median: ", "median: .nan #", 1),
                ),
            ),
            ("bl.yaml", "median", "finite"),
        ),
    ]
    return cases


# -- damaged run directories, through gate / report / compare / baseline -----------------------------
RUN_COMMANDS: dict[str, Callable[[Workspace, Path], list[str]]] = {
    "gate": lambda ws, run: _gate(ws, run=run),
    "report": lambda ws, run: ["report", str(run)],
    "compare": lambda ws, run: ["compare", str(run), "--out", str(ws.root / "cmp.html")],
    "baseline": lambda ws, run: ["baseline", str(run), "--out", str(ws.root / "new-baseline.json")],
}


def _damaged(file: str, damage: Callable[[Path], None]) -> Callable[[Workspace], Path]:
    def make(ws: Workspace) -> Path:
        run = ws.run_copy("damaged")
        damage(run / file)
        return run

    return make


def _manifest(mutate: Callable[[dict[str, Any]], str | bytes]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        content = mutate(json.loads(path.read_text()))
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return damage


def run_dir_cases() -> list[Case]:
    fatal: list[tuple[str, Callable[[Workspace], Path], tuple[str, ...]]] = [
        (
            "manifest-utf8",
            _damaged(
                "manifest.json",
                _manifest(lambda m: json.dumps(m).encode()[:10] + b"\xff" + json.dumps(m).encode()[10:]),
            ),
            ("manifest.json", "byte 10"),
        ),
        (
            "manifest-truncated",
            _damaged("manifest.json", _manifest(lambda m: json.dumps(m)[: len(json.dumps(m)) // 2])),
            ("manifest.json", "invalid JSON"),
        ),
        ("manifest-list", _damaged("manifest.json", _manifest(lambda m: "[1, 2]")), ("manifest.json", "JSON object")),
        (
            "manifest-status",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "status": 5}))),
            ("manifest.json", "status"),
        ),
        (
            "manifest-start-word",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "load_started_at": "soon"}))),
            ("manifest.json", "load_started_at"),
        ),
        (
            "manifest-start-nan",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "load_started_at": float("nan")}))),
            ("manifest.json", "load_started_at", "finite"),
        ),
        (
            "manifest-end-inf",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "load_ended_at": float("inf")}))),
            ("manifest.json", "load_ended_at"),
        ),
        (
            "manifest-time-scale",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "time_scale": -1}))),
            ("manifest.json", "time_scale"),
        ),
        (
            "manifest-flags",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "flags": "x"}))),
            ("manifest.json", "flags"),
        ),
        (
            "manifest-slo",
            _damaged("manifest.json", _manifest(lambda m: json.dumps({**m, "slo": {"p95_ms": "fast"}}))),
            ("manifest.json", "slo.p95_ms"),
        ),
        (
            "manifest-dup",
            _damaged("manifest.json", _manifest(lambda m: '{"status": "completed", "status": "failed"}')),
            ("manifest.json", "duplicate key"),
        ),
        ("manifest-missing", _damaged("manifest.json", lambda p: p.unlink()), ("no manifest.json",)),
        ("manifest-dir", _damaged("manifest.json", lambda p: (p.unlink(), p.mkdir())), ("manifest.json", "directory")),
        ("empty-dir", lambda ws: ws.write("empty/.keep", "").parent, ("empty", "not a run directory")),
        ("plain-file", lambda ws: ws.write("plain.txt", "hello"), ("plain.txt", "not a run directory")),
        ("missing", lambda ws: ws.root / "nowhere", ("nowhere", "does not exist")),
    ]
    cases = [
        Case(f"rundir-{label}-{command}", lambda ws, m=make, c=command: RUN_COMMANDS[c](ws, m(ws)), mentions)
        for label, make, mentions in fatal
        for command in RUN_COMMANDS
    ]
    judged: list[tuple[str, Callable[[Workspace], Path], tuple[str, ...]]] = [
        (
            "summary-kpi-word",
            _damaged(
                "summary.json",
                _manifest(
                    lambda s: json.dumps(
                        {**s, "kpis": {**s["kpis"], "p95_ms": {**s["kpis"]["p95_ms"], "value": "fast"}}}
                    )
                ),
            ),
            ("summary.json", "kpis.p95_ms.value"),
        ),
        (
            "summary-kpi-nan",
            _damaged(
                "summary.json",
                _manifest(
                    lambda s: json.dumps(
                        {**s, "kpis": {**s["kpis"], "p95_ms": {**s["kpis"]["p95_ms"], "value": float("nan")}}}
                    )
                ),
            ),
            ("summary.json", "kpis.p95_ms.value"),
        ),
        (
            "summary-kpis-list",
            _damaged("summary.json", _manifest(lambda s: json.dumps({**s, "kpis": []}))),
            ("summary.json", "kpis"),
        ),
        (
            "summary-truncated",
            _damaged("summary.json", _manifest(lambda s: json.dumps(s)[:100])),
            ("summary.json", "invalid JSON"),
        ),
        (
            "events-garbage",
            _damaged("events.jsonl", lambda p: p.write_text("not json\n" + p.read_text())),
            ("events.jsonl", "line 1"),
        ),
        (
            "events-utf8",
            _damaged("events.jsonl", lambda p: p.write_bytes(b"\xff\n" + p.read_bytes())),
            ("events.jsonl", "byte 0"),
        ),
        ("events-fifo", _damaged("events.jsonl", lambda p: (p.unlink(), os.mkfifo(p))), ("events.jsonl", "FIFO")),
        (
            "parquet-garbage",
            _damaged("data/client_stats.parquet", lambda p: p.write_bytes(b"garbage" * 10)),
            ("client_stats.parquet", "parquet"),
        ),
        (
            "prom-parquet-garbage",
            _damaged("data/prom/pod_rps.parquet", lambda p: p.write_bytes(b"PAR1garbagePAR1")),
            ("pod_rps.parquet", "parquet"),
        ),
        ("data-missing", _damaged("data", shutil.rmtree), ("data", "missing")),
        (
            "jsonl-garbage",
            _damaged("data/hpa.jsonl", lambda p: p.write_text('{"ts": 1}\n[1]\n{"ts": 2}\n')),
            ("hpa.jsonl", "line 2"),
        ),
    ]
    cases += [
        Case(f"rundir-{label}-{command}", lambda ws, m=make, c=command: RUN_COMMANDS[c](ws, m(ws)), mentions)
        for label, make, mentions in judged
        for command in ("gate", "baseline")
    ]
    return cases


# -- command-line values and output paths ------------------------------------------------------------
def command_line_cases() -> list[Case]:
    def run(*extra: str) -> Callable[[Workspace], list[str]]:
        return lambda ws: ["run", "--scenario", "spike", "--reports-dir", str(ws.reports), *extra]

    cases = [
        Case(f"cli-run-{option}-{value}", run(option, value), (option,))
        for option, value in (
            ("--workers", "-1"),
            ("--workers", "65"),
            ("--time-scale", "1e-320"),
            ("--time-scale", "nan"),
            ("--time-scale", "inf"),
            ("--time-scale", "0"),
            ("--time-scale", "1e9"),
            ("--scrape-interval-s", "0"),
            ("--scrape-interval-s", "nan"),
            ("--scrape-interval-s", "-5"),
        )
    ]
    cases += [
        Case(
            "cli-run-reports-dir-file",
            lambda ws: ["run", "--scenario", "spike", "--reports-dir", str(ws.write("f.txt", "x"))],
            ("f.txt", "--reports-dir"),
        ),
        Case(
            "cli-run-reports-dir-under-file",
            lambda ws: ["run", "--scenario", "spike", "--reports-dir", str(ws.write("f.txt", "x") / "sub")],
            ("f.txt", "--reports-dir"),
        ),
        Case("cli-run-scenario-missing", run("--scenario", "./nope.yaml"), ("nope.yaml", "not found")),
        Case("cli-run-scenario-unknown", run("--scenario", "no-such"), ("no-such", "unknown scenario")),
        Case(
            "cli-run-variant-dir",
            lambda ws: ["run", "--scenario", "spike", "--variant", str(ws.root), "--reports-dir", str(ws.reports)],
            ("directory",),
        ),
    ]
    cases += [
        Case(
            f"cli-show-{option}-{value}", lambda ws, o=option, v=value: ["scenarios", "show", "spike", o, v], (option,)
        )
        for option, value in (
            ("--step-s", "1e-9"),
            ("--step-s", "0"),
            ("--step-s", "nan"),
            ("--step-s", "-1"),
            ("--step-s", "inf"),
            ("--time-scale", "inf"),
            ("--time-scale", "nan"),
            ("--time-scale", "0"),
            ("--time-scale", "-1"),
        )
    ]
    cases += [
        Case("cli-show-no-name", lambda ws: ["scenarios", "show"], ("NAME",)),
        Case(
            "cli-show-escape-in-name",
            lambda ws: ["scenarios", "show", "\x1b[2Jgone"],
            ("\\x1b[2Jgone", "unknown scenario"),
        ),
        Case(
            "cli-run-escape-in-label",
            lambda ws: ["run", "--scenario", "\x1b]0;t\x07x", "--reports-dir", str(ws.reports)],
            ("\\x1b]0;t\\x07x",),
        ),
        Case("cli-render-validate-empty", lambda ws: ["render", "--validate", ""], ("--validate",)),
        Case("cli-render-validate-unknown", lambda ws: ["render", "--validate", "1.99"], ("--validate", "1.99")),
        Case("cli-render-validate-word", lambda ws: ["render", "--validate", "latest"], ("--validate", "latest")),
        Case("cli-render-image-space", lambda ws: ["render", "--image", "a b"], ("image",)),
        Case("cli-gate-junit-dir", lambda ws: [*_gate(ws), "--junit", str(ws.root)], ("--junit", "directory")),
        Case("cli-gate-junit-empty", lambda ws: [*_gate(ws), "--junit", ""], ("--junit", "empty")),
        Case(
            "cli-gate-markdown-under-file",
            lambda ws: [*_gate(ws), "--markdown", str(ws.write("f.txt", "x") / "s.md")],
            ("--markdown", "f.txt"),
        ),
    ]
    for command in ("compare", "baseline"):
        cases += [
            Case(
                f"cli-{command}-out-dir",
                lambda ws, c=command: [c, str(ws.good_run), "--out", str(ws.root)],
                ("--out", "directory"),
            ),
            Case(
                f"cli-{command}-out-under-file",
                lambda ws, c=command: [c, str(ws.good_run), "--out", str(ws.write("f.txt", "x") / "out")],
                ("--out", "f.txt"),
            ),
        ]
    return cases


# -- locustfiles, imported in a child process before anything is deployed ----------------------------
LOCUSTFILES: tuple[tuple[str, str | bytes | None, tuple[str, ...]], ...] = (
    ("missing", None, ("lf.py", "not found")),
    ("syntax", "from locust import HttpUser\nclass U(HttpUser)\n    pass\n", ("lf.py", "line 2", "syntax")),
    (
        "raises",
        "from locust import HttpUser\nraise RuntimeError('boom at import')\n",
        ("lf.py", "line 2", "boom at import"),
    ),
    ("import-error", "import no_such_module_hpabench\n", ("lf.py", "line 1", "no_such_module_hpabench")),
    ("no-user", "from locust import LoadTestShape\nx = 1\n", ("lf.py", "User class")),
    (
        "abstract-user",
        "from locust import HttpUser\nclass U(HttpUser):\n    abstract = True\n",
        ("lf.py", "User class"),
    ),
    ("exits", "import sys\nsys.exit(3)\n", ("lf.py", "SystemExit")),
    ("hard-exit", "import os\nos._exit(4)\n", ("lf.py", "exit 4")),
    (
        "two-shapes",
        "from locust import HttpUser, LoadTestShape, task\nclass U(HttpUser):\n    @task\n    def t(self): pass\nclass A(LoadTestShape):\n    def tick(self): return None\nclass B(LoadTestShape):\n    def tick(self): return None\n",
        ("lf.py", "LoadTestShape"),
    ),
    ("utf8", b"x = '\xff'\n", ("lf.py", "byte 5")),
)


REAL_RUN_LOCUSTFILES = ("missing", "syntax", "raises", "no-user")  # also without --dry-run


def locustfile_cases() -> list[Case]:
    def build(content: str | bytes | None, kind: str) -> Callable[[Workspace], list[str]]:
        def make(ws: Workspace) -> list[str]:
            path = ws.root / "lf.py" if content is None else ws.write("lf.py", content)
            return [
                "run",
                "--scenario",
                "spike",
                "--locustfile",
                str(path),
                "--reports-dir",
                str(ws.reports),
                *(["--dry-run"] if kind == "dry" else []),
            ]

        return make

    cases = [
        Case(f"locustfile-{label}-{kind}", build(content, kind), mentions)
        for label, content, mentions in LOCUSTFILES
        for kind in ("dry", "real")
        if kind == "dry" or label in REAL_RUN_LOCUSTFILES
    ]
    cases.append(
        Case(
            "locustfile-fifo",
            lambda ws: [
                "run",
                "--scenario",
                "spike",
                "--locustfile",
                str(ws.fifo("lf.fifo")),
                "--reports-dir",
                str(ws.reports),
            ],
            ("lf.fifo", "FIFO"),
        )
    )
    cases.append(
        Case(
            "locustfile-dir",
            lambda ws: ["run", "--scenario", "spike", "--locustfile", str(ws.root), "--reports-dir", str(ws.reports)],
            ("--locustfile", "directory"),
        )
    )
    return cases


def all_cases() -> list[Case]:
    cases = scenario_cases() + trace_cases() + variant_cases() + threshold_cases() + baseline_cases()
    cases += run_dir_cases() + command_line_cases() + locustfile_cases()
    ids = [case.id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates
    return cases
