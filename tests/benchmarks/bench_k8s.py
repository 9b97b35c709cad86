"""The k8s target's own cost, measured against the Kubernetes API emulator (kmock; no cluster here).

    .venv/bin/python -m tests.benchmarks k8s [--watch-s 60]

One whole `run_benchmark(--target k8s)` with the controllers played as in the flow tests
(tests/unit/k8s/conftest.py) and a load driver that only holds the load phase open for
`--watch-s` seconds while the web Deployment is scaled 1→4→2, so the target watches real churn.
Prints: the pre-flight's wall time, the time from `run` to the load starting, the API requests per
second the target made while watching (from its own request log, port-forwards excluded) and the
bytes the run directory holds. Prometheus is not emulated: collection fails and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _dir_bytes(path: Path) -> dict[str, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    data = sum(p.stat().st_size for p in files if "data" in p.relative_to(path).parts)
    return {"total": sum(p.stat().st_size for p in files), "data": data, "files": len(files)}


async def _bench(watch_s: float) -> dict[str, float]:
    import kmock
    from kmock._internal import parsing

    from hpabench.console import Console
    from hpabench.pipeline import RunOptions, run_benchmark
    from hpabench.scenarios.drive.driver import DriverResult
    from tests.unit.k8s import conftest as emu

    parsing.parse_path = emu._parse_path  # the emulator's namespace gap (see the conftest docstring)
    marks: dict[str, float] = {}
    async with emu.Emulator() as cluster, kmock.Server(cluster):
        for kind, (plural, namespaced) in emu.KINDS.items():
            cluster.resources[f"{emu.GROUP_VERSIONS[kind]}/{plural}"] = kmock.ResourceInfo(
                kind=kind, namespaced=namespaced
            )
        cluster.resources["metrics.k8s.io/v1beta1/nodes"] = kmock.ResourceInfo(kind="NodeMetrics", namespaced=False)
        await emu.seed_cluster(cluster, images=["hpabench/refapp:0.1.0"])
        work = Path(tempfile.mkdtemp(prefix="bench-k8s-"))
        kubeconfig = work / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "emu",
                    "clusters": [{"name": "emu", "cluster": {"server": emu.url_of(cluster)}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "u"}}],
                }
            )
        )
        stop = asyncio.Event()
        controllers = asyncio.create_task(emu.play_controllers(cluster, stop))
        loop = asyncio.get_running_loop()
        load_started = threading.Event()

        def driver(config, progress=None):
            marks["load_start"] = time.time()
            load_started.set()
            time.sleep(watch_s)
            return DriverResult(started_at=marks["load_start"], ended_at=time.time(), interrupted=False, flags=[])

        async def churn() -> None:
            await asyncio.to_thread(load_started.wait)
            ns = next(
                n["metadata"]["name"]
                for n in (await emu.call(cluster, "GET", "/api/v1/namespaces"))["items"]
                if n["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "hpabench"
            )
            for replicas in (4, 2):
                await asyncio.sleep(watch_s / 3)
                await emu.call(
                    cluster, "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web", {"spec": {"replicas": replicas}}
                )

        options = RunOptions(
            scenario="spike",
            target="k8s",
            reports_dir=work / "reports",
            scrape_interval_s=1.0,
            target_settings={"kubeconfig": kubeconfig, "ready_timeout_s": 60},
        )
        churner = asyncio.create_task(churn())
        marks["run"] = time.time()
        outcome = await loop.run_in_executor(None, lambda: run_benchmark(options, Console(), driver=driver))
        await churner
        stop.set()
        await controllers
    manifest = json.loads((outcome.run_path / "manifest.json").read_text())
    sizes = _dir_bytes(outcome.run_path)
    return {
        "preflight_s": manifest["cluster"]["preflight_s"],
        "run_to_load_start_s": round(marks["load_start"] - marks["run"], 3),
        "watch_requests_per_s": manifest["k8s_api"]["watch_requests_per_s"],
        "watch_window_s": manifest["k8s_api"]["window_s"],
        "requests_total": manifest["k8s_api"]["requests_total"],
        "teardown_s": manifest["teardown_s"],
        "run_dir_bytes": sizes["total"],
        "run_dir_data_bytes": sizes["data"],
        "run_dir_files": sizes["files"],
        "status": outcome.status,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watch-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    results = asyncio.run(_bench(args.watch_s))
    for key, value in results.items():
        print(f"k8s {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
