"""The entry point of a Locust pod in the cluster: `python -m hpabench.scenarios.drive.incluster master|worker`.

Runs inside the load-generator image (hpabench + Locust), started by the objects of
`hpabench.deploy.k8s.loadgen`. Plain Python: Locust runs as a child process, so gevent's
monkey-patching stays there.

1. Copies the run's `locust_config.json` from the read-only ConfigMap mount (`--config-dir`) into
   the pod's writable data folder (`--data-dir`, an emptyDir), pointing `data_dir` there.
2. Starts Locust headless with the shipped locustfiles, the process name (`master`; a worker is
   named by the master's index, see `locust_messages`) and the remaining arguments; its output
   goes to this process's stdout (the pod log) and, on the master, to `data/locust.master.log`.
3. The master only: serves its data folder on `--artefact-port` (HTTP, read-only) while Locust
   runs and **after it exits**, until the driver `POST /done`s or `--linger-s` passes, so every
   artefact can be copied before the pod goes away:
   `GET /status` → `{"state": "running"|"finished", "exit_code", "clock": {...}, "files": [names]}`,
   `GET /files/<name>` → the file's bytes (names in the folder only), `POST /done` → exit.
   The exit code is Locust's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hpabench.scenarios.drive.locust_runtime import (
    CONFIG_FILE,
    ENV_CONFIG,
    ENV_PROCESS,
    RuntimeConfig,
    read_clock,
    report_args,
)

ARTEFACT_PORT = 8089
LINGER_S = 600.0
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class ArtefactState:
    """What the HTTP handler shows: Locust's state and exit code, and the folder it serves."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.exit_code: int | None = None
        self.done = threading.Event()

    def status(self) -> dict[str, Any]:
        files = sorted(p.name for p in self.data_dir.iterdir() if p.is_file())
        return {
            "state": "running" if self.exit_code is None else "finished",
            "exit_code": self.exit_code,
            "clock": read_clock(self.data_dir),
            "files": files,
        }


def _handler(state: ArtefactState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the driver's one connection through its port-forward

        def log_message(self, format: str, *args: Any) -> None:
            return  # the driver polls /status each second: not worth a log line each

        def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/status":
                self._send(200, json.dumps(state.status()).encode())
                return
            name = self.path.removeprefix("/files/")
            path = state.data_dir / name
            if self.path.startswith("/files/") and _FILE_NAME.match(name) and path.is_file():
                self._send(200, path.read_bytes(), "application/octet-stream")
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            if self.path == "/done":
                self._send(200, b"{}")
                state.done.set()
            else:
                self._send(404, b'{"error": "not found"}')

    return Handler


def prepare(config_dir: Path, data_dir: Path) -> Path:
    """The run's config with `data_dir` pointing at the pod's writable folder; its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = RuntimeConfig.read(config_dir / CONFIG_FILE)
    path = data_dir / CONFIG_FILE
    replace(config, data_dir=data_dir).write(path)
    return path


def run(role: str, config_dir: Path, data_dir: Path, locust_args: list[str], port: int, linger_s: float) -> int:
    config_path = prepare(config_dir, data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update({ENV_CONFIG: str(config_path), ENV_PROCESS: role, "PYTHONUNBUFFERED": "1"})
    command = [sys.executable, "-m", "locust", "--headless", *locust_args]
    if role != "master":
        return subprocess.call(command, cwd=data_dir, env=env, stdin=subprocess.DEVNULL)
    command += report_args(data_dir)  # Locust's own reports: served with the other artefacts
    state = ArtefactState(data_dir)
    server = ThreadingHTTPServer(("0.0.0.0", port), _handler(state))  # reached only via a port-forward
    thread = threading.Thread(target=server.serve_forever, name="artefacts", daemon=True)
    thread.start()
    try:
        with (data_dir / "locust.master.log").open("ab") as log:
            child = subprocess.Popen(command, cwd=data_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
            assert child.stdout is not None
            for line in child.stdout:  # tee: the pod log and the artefact
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()
                log.write(line)
                log.flush()
            state.exit_code = child.wait()
        state.done.wait(linger_s)
        return state.exit_code
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hpabench.scenarios.drive.incluster", description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=("master", "worker"))
    parser.add_argument("--config-dir", type=Path, default=Path("/etc/hpabench"))
    parser.add_argument("--data-dir", type=Path, default=Path("/data"))
    parser.add_argument("--artefact-port", type=int, default=ARTEFACT_PORT)
    parser.add_argument("--linger-s", type=float, default=LINGER_S)
    args, locust_args = parser.parse_known_args(argv)
    started = time.time()
    code = run(args.role, args.config_dir, args.data_dir, locust_args, args.artefact_port, args.linger_s)
    print(f"hpabench {args.role}: Locust exited with {code} after {time.time() - started:.1f} s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
