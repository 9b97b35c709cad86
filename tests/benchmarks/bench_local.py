"""Benchmark: the local target's start/stop speed, CPU-limit fidelity and throughput (issue 2, "Measured").

    .venv/bin/python -m tests.benchmarks.bench_local [--cycles 5] [--duration-s 10] [--json] [--only up,cpu,rps]

* `up`  — `hpabench up` (the detached supervisor, base manifests, 1 web pod) until every pod is
          ready, and `hpabench down` until clean (no process, cgroup or port left, verified);
          medians of `--cycles` (targets: up < 15 s, down < 5 s).
* `cpu` — one web pod with its 500m CPU limit saturated on `/work`: CPU use measured from its
          cgroup over a window after warm-up must be within ±10 % of 0.5 core.
* `rps` — requests/s through HAProxy with 1 and with 2 pods, on the CPU-bound `/work` and on the
          cached `/items/{id}` (closed loop, keep-alive connections, `--duration-s` each).

The load comes from a lean asyncio HTTP/1.1 client in a separate process; its CPU use is
reported, since on a small machine the client competes with the pods for cores. Numbers are
noisy when other work shares the machine: compare ratios side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from hpabench.deploy.local.cluster import LocalCluster, LocalSettings
from hpabench.deploy.local.daemon import down, up
from hpabench.rundir import RunDir

CPU_LIMIT_CORES = 0.5
CPU_TOLERANCE = 0.10
UP_TARGET_S = 15.0
DOWN_TARGET_S = 5.0


def base_objects(web_replicas: int = 1) -> list[dict[str, Any]]:
    """The rendered base manifests with `web_replicas` web pods."""
    from hpabench.deploy.render import render_objects

    objects = copy.deepcopy(render_objects(None, None))
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    web["spec"]["replicas"] = web_replicas
    return objects


# ------------------------------------------------------------------------------ load client


async def _connection(port: int, path: str, deadline: float, counts: list[int]) -> None:
    """One keep-alive connection sending GETs back to back until `deadline` (closed loop)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if status_line[9:12] == b"200":
                counts[0] += 1
            else:
                counts[1] += 1
            if not status_line:
                break
    finally:
        writer.close()


def closed_loop(port: int, paths: list[str], connections: int, duration_s: float) -> dict[str, float]:
    """Run in a child process: `connections` keep-alive loops for `duration_s`; counts and client CPU."""
    counts = [0, 0]
    deadline = time.monotonic() + duration_s

    async def run() -> None:
        tasks = [_connection(port, paths[i % len(paths)], deadline, counts) for i in range(connections)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        counts[1] += sum(1 for r in results if isinstance(r, BaseException))

    cpu0 = time.process_time()
    started = time.monotonic()
    asyncio.run(run())
    elapsed = time.monotonic() - started
    return {
        "ok": counts[0],
        "errors": counts[1],
        "elapsed_s": elapsed,
        "rps": counts[0] / elapsed,
        "client_cpu_cores": (time.process_time() - cpu0) / elapsed,
        "client_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def load(
    pool: ProcessPoolExecutor, port: int, paths: list[str], connections: int, duration_s: float
) -> dict[str, float]:
    return pool.submit(closed_loop, port, paths, connections, duration_s).result(timeout=duration_s + 60)


# ------------------------------------------------------------------------------ cases


def bench_up_down(cycles: int) -> dict[str, Any]:
    settings = LocalSettings(scrape_interval_s=5.0, autoscale=False)
    ups, downs = [], []
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-") as tmp:
        reports = Path(tmp)
        for _ in range(cycles):
            t0 = time.monotonic()
            up(base_objects(1), reports, settings)
            ups.append(time.monotonic() - t0)
            t0 = time.monotonic()
            down(reports)  # raises if anything (process, cgroup, port) is left behind
            downs.append(time.monotonic() - t0)
    return {
        "cycles": cycles,
        "up_s": ups,
        "down_s": downs,
        "up_median_s": statistics.median(ups),
        "down_median_s": statistics.median(downs),
        "up_ok": statistics.median(ups) < UP_TARGET_S,
        "down_ok": statistics.median(downs) < DOWN_TARGET_S,
    }


def _pod_cpu(cluster: LocalCluster) -> tuple[float, float, int, int]:
    pod = cluster.deployment("web").pods()[0]
    return time.monotonic(), pod.cpu_usage_seconds, pod.cpu_periods, pod.cpu_throttled_periods


def bench_cpu_and_rps(pool: ProcessPoolExecutor, duration_s: float, cases: set[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hpabench-bench-") as tmp:
        run = RunDir.create(Path(tmp), "bench-local")
        settings = LocalSettings(scrape_interval_s=5.0, autoscale=False)
        cluster = LocalCluster.start(base_objects(1), run, settings)
        try:
            port = int(cluster.service_url("web").rsplit(":", 1)[1])
            result["cgroups_enforced"] = run.read_manifest()["host"]["cgroups_enforced"]
            if "cpu" in cases:
                load(pool, port, ["/work"], 8, 3.0)  # warm-up: reach steady throttling
                before = _pod_cpu(cluster)
                window = pool.submit(closed_loop, port, ["/work"], 8, duration_s + 2.0)
                time.sleep(1.0)
                start = _pod_cpu(cluster)
                time.sleep(duration_s)
                end = _pod_cpu(cluster)
                client = window.result(timeout=duration_s + 60)
                cores = (end[1] - start[1]) / (end[0] - start[0])
                periods = end[2] - before[2]
                result["cpu"] = {
                    "limit_cores": CPU_LIMIT_CORES,
                    "measured_cores": cores,
                    "error_pct": 100 * (cores - CPU_LIMIT_CORES) / CPU_LIMIT_CORES,
                    "within_tolerance": abs(cores - CPU_LIMIT_CORES) <= CPU_TOLERANCE * CPU_LIMIT_CORES,
                    "throttled_period_share": (end[3] - before[3]) / periods if periods else None,
                    "work_rps": client["rps"],
                }
            if "rps" in cases:
                items = [f"/items/{i}" for i in range(1, 101)]
                rps: dict[str, Any] = {}
                web = cluster.deployment("web")
                for pods in (1, 2):
                    web.scale(pods, by="user")
                    _wait(lambda n=pods: len([p for p in web.pods() if p.ready]) == n, 60)
                    _wait(lambda n=pods: len(cluster.haproxy_api.servers("web")) == n, 10)
                    for route, paths, connections in (("work", ["/work"], 8), ("items_cached", items, 16)):
                        load(pool, port, paths, connections, 2.0)  # warm-up (and fill the cache)
                        before_stot, cpu0, t0 = _served(cluster), _web_cpu_s(cluster), time.monotonic()
                        measured = load(pool, port, paths, connections, duration_s)
                        after_stot, cpu1, t1 = _served(cluster), _web_cpu_s(cluster), time.monotonic()
                        measured["web_cpu_cores"] = (cpu1 - cpu0) / (t1 - t0)
                        served = {pod: after_stot[pod] - before_stot.get(pod, 0) for pod in after_stot}
                        total = sum(served.values()) or 1
                        measured["pod_shares"] = sorted(round(n / total, 2) for n in served.values())
                        measured["load_avg_1m"] = os.getloadavg()[0]
                        rps[f"{route}_{pods}pod"] = measured
                result["rps"] = rps
        finally:
            cluster.stop()
            run.close()
    return result


def _served(cluster: LocalCluster) -> dict[str, int]:
    """Requests each HAProxy server (pod) has received so far."""
    return {name: int(row["stot"]) for name, row in cluster.haproxy_api.servers("web").items()}


def _web_cpu_s(cluster: LocalCluster) -> float:
    """CPU seconds used so far by all web pods, from their cgroups."""
    return sum(p.cpu_usage_seconds for p in cluster.deployment("web").pods())


def _wait(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the stack did not converge")
        time.sleep(0.1)


# ------------------------------------------------------------------------------ report


def report(result: dict[str, Any]) -> None:
    if "up" in result:
        r = result["up"]
        ups = ", ".join(f"{s:.1f}" for s in r["up_s"])
        downs = ", ".join(f"{s:.2f}" for s in r["down_s"])
        print(f"up → all pods ready:  median {r['up_median_s']:.2f}s  (target < {UP_TARGET_S:g}s)  [{ups}]")
        print(f"down → clean:         median {r['down_median_s']:.2f}s  (target < {DOWN_TARGET_S:g}s)  [{downs}]")
    if "cpu" in result:
        c = result["cpu"]
        verdict = "OK" if c["within_tolerance"] else "OUT OF TOLERANCE"
        print(
            f"500m-limited pod saturated on /work: {c['measured_cores']:.3f} cores from its cgroup "
            f"({c['error_pct']:+.1f}% vs 0.5, ±10% allowed: {verdict}); "
            f"throttled in {100 * (c['throttled_period_share'] or 0):.0f}% of CFS periods; {c['work_rps']:.0f} req/s"
        )
        if not result.get("cgroups_enforced"):
            print("  (cgroups not enforced on this machine: no CPU limit was applied)")
    if "rps" in result:
        print("req/s through HAProxy (closed loop, keep-alive):")
        header = f"  {'case':<20} {'req/s':>9} {'errors':>7} {'web CPU':>8} {'client CPU':>11} {'per-pod share':>14}"
        print(header + f" {'load avg':>9}")
        for name, r in result["rps"].items():
            shares = "/".join(f"{x:.2f}" for x in r["pod_shares"])
            print(
                f"  {name:<20} {r['rps']:>9.0f} {r['errors']:>7.0f} {r['web_cpu_cores']:>7.2f}c "
                f"{r['client_cpu_cores']:>10.2f}c {shares:>14} {r['load_avg_1m']:>9.1f}"
            )
        print("  (web CPU: cores used by all web pods, from their cgroups; below 0.5 per pod = the machine is busy)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--only", default="up,cpu,rps", help="comma-separated subset of up,cpu,rps")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cases = set(args.only.split(","))
    result: dict[str, Any] = {}
    if "up" in cases:
        result["up"] = bench_up_down(args.cycles)
    if cases & {"cpu", "rps"}:
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
            result.update(bench_cpu_and_rps(pool, args.duration_s, cases))
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        report(result)
    failed = ("up" in result and not (result["up"]["up_ok"] and result["up"]["down_ok"])) or (
        "cpu" in result and result.get("cgroups_enforced") and not result["cpu"]["within_tolerance"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
