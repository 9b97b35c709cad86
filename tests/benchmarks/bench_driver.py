"""Benchmark: the hpabench load driver's own cost and accuracy (issue 3, "Measured").

    .venv/bin/python -m tests.benchmarks.bench_driver [--reps 3] [--window-s 8] [--users 64] [--quick] [--json]
        [--cases plain_locust,driver_own_file,driver_catalogue] [--overhead-only]

Target: HAProxy answering every request itself (`http-request return`), pinned to the last
core, so the server is never the bottleneck. Generator: pinned to core 0 (taskset), saturated
(64 users, no wait). Cases, alternated rep by rep so machine noise hits all of them alike:

* `plain_locust`    — `locust --headless` with a plain FastHttpUser (no hpabench at all);
* `driver_own_file` — the same locustfile through `run_load` (hpabench shape + recorder);
* `driver_catalogue`— `run_load` with hpabench's own user (route mix, zero think time).

Each case is measured over a steady window (after warm-up): requests from HAProxy's own
counter (`show stat` on its admin socket) and CPU seconds of every generator-side process
(driver parent + Locust) → req/s and **req/s per core**; the ratio to the `plain_locust` run of
the same rep (paired, so both saw the same machine noise; median over reps) is the driver
overhead (target ≥ 0.9x).

`accuracy`: a driver run whose locustfile also logs every response time raw; hpabench's
per-second histograms (merged) are compared with exact numpy percentiles of the same requests,
over the whole run and per second (target ≤ 1%).

`compressed_spike`: wall time of `run_load` for the spike scenario at time scale 0.1 against
the same target, and the share of it outside the planned load phase (startup + stop).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

PERCENTILES = (("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0), ("p999_ms", 99.9))

BENCH_USER = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/", name="root")
"""

RAW_LOGGER = """
import os, time
from locust import events

_raw = open(os.environ["BENCH_RAW_LOG"], "a", buffering=1 << 16)


@events.request.add_listener
def _log(response_time, **_):
    _raw.write(f"{time.time()!r} {response_time!r}\\n")


@events.quitting.add_listener
def _close(**_):
    _raw.close()
"""

DRIVER_SCRIPT = """
import json, sys
from pathlib import Path
from hpabench.scenarios.drive.driver import DriverConfig, run_load
from hpabench.scenarios.spec import Scenario

spec = json.loads(sys.argv[1])
locustfile = Path(sys.argv[4]) if sys.argv[4] != "-" else None
config = DriverConfig(scenario=Scenario.model_validate(spec), host=sys.argv[2], data_dir=Path(sys.argv[3]),
                      locustfile=locustfile, time_scale=float(sys.argv[5]))
started = __import__("time").time()
result = run_load(config)
print(json.dumps({"started_at": result.started_at, "ended_at": result.ended_at, "launched": started,
                  "returned": __import__("time").time(), "requests": result.requests,
                  "planned_s": result.planned_duration_s, "flags": result.flags}))
"""


# -- the target ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HaproxyTarget:
    """HAProxy answering 200 "ok" itself on 127.0.0.1, pinned to one core, with an admin socket."""

    def __init__(self, workdir: Path, cpu: int) -> None:
        if shutil.which("haproxy") is None:
            raise SystemExit("haproxy not found: sudo apt-get install -y haproxy")
        self.port = _free_port()
        self.socket_path = workdir / "haproxy.sock"
        config = workdir / "haproxy.cfg"
        config.write_text(
            textwrap.dedent(f"""
            global
                nbthread 1
                maxconn 4000
                stats socket {self.socket_path} mode 600 level admin
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend bench
                bind 127.0.0.1:{self.port}
                http-request return status 200 content-type text/plain string ok
            """)
        )
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), "haproxy", "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not self.socket_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("haproxy did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_total(self) -> int:
        """The frontend's `req_tot` from `show stat` (every HTTP request HAProxy answered)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            cells = line.split(",")
            if cells[:2] == ["bench", "FRONTEND"]:
                return int(cells[header.index("req_tot")])
        raise RuntimeError("no bench frontend in haproxy stats")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# -- one generator case ---------------------------------------------------------------------------
def _cpu_seconds(root: psutil.Process) -> float:
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure_case(
    case: str, target: HaproxyTarget, workdir: Path, users: int, window_s: float, warmup_s: float = 4.0
) -> dict[str, Any]:
    """Run one case pinned to core 0; req/s and req/s per core over a steady window."""
    run_dir = workdir / f"{case}-{time.monotonic_ns()}"
    run_dir.mkdir()
    bench_file = workdir / "bench_user.py"
    duration_s = warmup_s + window_s + 6.0
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    if case == "plain_locust":
        command = [sys.executable, "-m", "locust", "-f", str(bench_file), "--headless", "-u", str(users)]
        command += ["-r", str(users), "-t", f"{int(duration_s)}s", "--host", target.url, "--only-summary"]
        command += ["--stop-timeout", "2", "--exit-code-on-error", "0"]
    else:
        spec: dict[str, Any] = {
            "name": "bench",
            "description": "driver overhead",
            "stages": [{"name": "flat", "duration_s": duration_s, "users": users}],
            "think_time": {"distribution": "constant", "mean_s": 0},
        }
        locustfile = str(bench_file) if case == "driver_own_file" else "-"
        command = [sys.executable, "-c", DRIVER_SCRIPT, json.dumps(spec), target.url, str(run_dir / "data")]
        command += [locustfile, "1.0"]
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        cwd=run_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    root = psutil.Process(proc.pid)
    try:
        # wait until load flows, then let it settle
        start_count = target.requests_total()
        deadline = time.monotonic() + 60
        while target.requests_total() < start_count + 100:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{case}: no load reached the target")
            time.sleep(0.1)
        time.sleep(warmup_s)
        count_a, cpu_a, wall_a = target.requests_total(), _cpu_seconds(root), time.monotonic()
        time.sleep(window_s)
        count_b, cpu_b, wall_b = target.requests_total(), _cpu_seconds(root), time.monotonic()
    finally:
        _stop(proc)
    requests = count_b - count_a
    cpu_s = cpu_b - cpu_a
    return {
        "case": case,
        "rps": requests / (wall_b - wall_a),
        "cpu_cores": cpu_s / (wall_b - wall_a),
        "rps_per_core": requests / cpu_s if cpu_s > 0 else math.nan,
    }


# -- accuracy -------------------------------------------------------------------------------------
def measure_accuracy(target: HaproxyTarget, workdir: Path, users: int, duration_s: float) -> dict[str, Any]:
    """Driver run with a raw response-time log; hpabench percentiles vs exact ones."""
    locustfile = workdir / "bench_raw.py"
    locustfile.write_text(BENCH_USER + RAW_LOGGER)
    raw_log = workdir / "raw.log"
    run_dir = workdir / "accuracy"
    spec = {
        "name": "accuracy",
        "description": "percentile accuracy",
        "stages": [{"name": "flat", "duration_s": duration_s, "users": users}],
    }
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}, "BENCH_RAW_LOG": str(raw_log)}
    command = [sys.executable, "-c", DRIVER_SCRIPT, json.dumps(spec), target.url, str(run_dir / "data")]
    subprocess.run(
        ["taskset", "-c", "0", *command, str(locustfile), "1.0"], env=env, check=True, capture_output=True, timeout=120
    )
    from hpabench.scenarios.drive.locust_runtime import read_clock
    from hpabench.scenarios.histogram import LatencyHistogram

    raw = np.loadtxt(raw_log)
    completed_at, latency_ms = raw[:, 0], raw[:, 1]
    client = pd.read_parquet(run_dir / "data" / "client_stats.parquet")
    rows = client[client["route"] == "ALL"]
    merged = LatencyHistogram()
    for text in rows["hist"]:
        merged.merge(LatencyHistogram.from_sparse(json.loads(text)))
    overall: dict[str, float] = {}
    for name, q in PERCENTILES:
        exact = float(np.percentile(latency_ms, q, method="inverted_cdf"))
        overall[name] = abs(merged.percentile(q) - exact) / exact
    overall["max_ms"] = abs(merged.max - float(latency_ms.max())) / float(latency_ms.max())
    # per second: the same run-second bucketing as the recorder
    t0 = float(read_clock(run_dir / "data")["t0"])
    second_of = np.floor(completed_at - t0).astype(int)
    worst_per_second = 0.0
    seconds_checked = 0
    for row in rows.to_dict("records"):
        k = round(float(row["ts"]) - t0)
        values = latency_ms[second_of == k]
        if len(values) < 100 or int(row["requests"]) != len(values):
            continue
        seconds_checked += 1
        for name, q in PERCENTILES:
            exact = float(np.percentile(values, q, method="inverted_cdf"))
            worst_per_second = max(worst_per_second, abs(float(row[name]) - exact) / exact)
    return {
        "requests": len(latency_ms),
        "recorded": int(rows["requests"].sum()),
        "overall_rel_error": overall,
        "overall_max_rel_error": max(overall.values()),
        "per_second_max_rel_error": worst_per_second,
        "seconds_checked": seconds_checked,
    }


def measure_compressed_spike(target: HaproxyTarget, workdir: Path, time_scale: float) -> dict[str, Any]:
    from hpabench.scenarios.catalogue import load_scenario

    spec = load_scenario("spike").model_dump(mode="json")
    run_dir = workdir / "spike"
    command = [sys.executable, "-c", DRIVER_SCRIPT, json.dumps(spec), target.url, str(run_dir / "data"), "-"]
    started = time.time()
    done = subprocess.run(
        ["taskset", "-c", "0", *command, str(time_scale)], check=True, capture_output=True, text=True, timeout=600
    )
    wall_s = time.time() - started
    result = json.loads(done.stdout.strip().splitlines()[-1])
    load_s = result["ended_at"] - result["started_at"]
    return {
        "time_scale": time_scale,
        "planned_s": result["planned_s"],
        "wall_s": wall_s,
        "load_s": load_s,
        "startup_s": result["started_at"] - result["launched"],
        "outside_load_share": (wall_s - load_s) / wall_s,
        "requests": result["requests"],
        "flags": result["flags"],
    }


# -- main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--window-s", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="one rep, short windows")
    parser.add_argument(
        "--cases", default="plain_locust,driver_own_file,driver_catalogue", help="comma-separated subset"
    )
    parser.add_argument("--overhead-only", action="store_true", help="skip the accuracy and spike parts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.window_s = 1, 5.0
    cpus = os.cpu_count() or 1
    if cpus < 2:
        print("note: one CPU only; target and generator share it", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="hpabench-bench-driver-"))
    results: dict[str, Any] = {"cases": [], "cpus": cpus}
    target: HaproxyTarget | None = None
    try:
        target = HaproxyTarget(workdir, cpu=cpus - 1)
        (workdir / "bench_user.py").write_text(BENCH_USER)
        cases = [case for case in args.cases.split(",") if case]
        for rep in range(args.reps):
            for case in cases if rep % 2 == 0 else list(reversed(cases)):
                row = measure_case(case, target, workdir, args.users, args.window_s)
                row["rep"] = rep
                results["cases"].append(row)
                print(
                    f"  {case:<17} rep {rep}: {row['rps']:8.0f} req/s  {row['rps_per_core']:8.0f} req/s/core",
                    file=sys.stderr,
                )
        summary = {}
        for case in cases:
            rows = [r for r in results["cases"] if r["case"] == case]
            summary[case] = {
                "rps_median": statistics.median(r["rps"] for r in rows),
                "rps_per_core_median": statistics.median(r["rps_per_core"] for r in rows),
                "cpu_cores_median": statistics.median(r["cpu_cores"] for r in rows),
            }
        if "plain_locust" in summary:
            # each rep's ratio to the plain run beside it: pairs share the machine's noise
            plain = {r["rep"]: r["rps_per_core"] for r in results["cases"] if r["case"] == "plain_locust"}
            for case in cases:
                pairs = [r["rps_per_core"] / plain[r["rep"]] for r in results["cases"] if r["case"] == case]
                summary[case]["ratio_vs_plain"] = statistics.median(pairs)
                summary[case]["ratio_min"], summary[case]["ratio_max"] = min(pairs), max(pairs)
        results["summary"] = summary
        if not args.overhead_only:
            duration_s = 8.0 if args.quick else 15.0
            results["accuracy"] = measure_accuracy(target, workdir, users=10, duration_s=duration_s)
            results["compressed_spike"] = measure_compressed_spike(target, workdir, time_scale=0.1)
    finally:
        if target is not None:
            target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"driver overhead (generator pinned to core 0, HAProxy on core {cpus - 1}; medians of {args.reps} reps)")
    print(f"{'case':<18} {'req/s':>9} {'cores':>6} {'req/s/core':>11} {'vs plain (paired median, range)':>32}")
    for case, row in results["summary"].items():
        ratio = row.get("ratio_vs_plain", math.nan)
        spread = f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f})" if "ratio_min" in row else ""
        print(
            f"{case:<18} {row['rps_median']:>9.0f} {row['cpu_cores_median']:>6.2f} "
            f"{row['rps_per_core_median']:>11.0f} {ratio:>8.2f}x {spread}"
        )
    if args.overhead_only:
        return 0
    acc = results["accuracy"]
    print(f"\npercentile accuracy ({acc['requests']} requests, {acc['seconds_checked']} seconds checked)")
    print("  whole run: " + "  ".join(f"{k} {v * 100:.2f}%" for k, v in acc["overall_rel_error"].items()))
    print(f"  worst per-second error: {acc['per_second_max_rel_error'] * 100:.2f}%   (target <= 1%)")
    spike = results["compressed_spike"]
    print(
        f"\ncompressed spike (time scale {spike['time_scale']}): planned {spike['planned_s']:.1f} s, "
        f"wall {spike['wall_s']:.1f} s, load {spike['load_s']:.1f} s, startup {spike['startup_s']:.1f} s, "
        f"outside load {spike['outside_load_share'] * 100:.0f}%, flags {spike['flags']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
