"""A local listener on 127.0.0.1 whose connections are port-forwarded to pods through the API server.

This is how the runner reaches anything inside the cluster (the web Service for a small run,
Prometheus): never a ClusterIP or pod IP, only a loopback port it opened itself (the safety
rule). `PortForwarder(open_upstream, name)` accepts TCP connections on 127.0.0.1:<free port>
and, per connection, asks `open_upstream()` for a socket-like connected to a pod's port and
relays bytes both ways until either side closes. `pod_upstream(api, namespace, port, choose_pod)`
is the real opener: one API-server port-forward stream (SPDY/websocket, `pods/portforward`) per
connection to the pod `choose_pod()` names — e.g. the next ready web pod in round-robin order, so
a multi-connection load spreads over the replicas like a Service would (per connection; keep-alive
connections stay on their pod, as through kube-proxy).

`close()` stops accepting, ends every relay and joins the threads (idempotent).
"""

from __future__ import annotations

import itertools
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

from hpabench.deploy.k8s.api import KubeApi
from hpabench.errors import TargetError

Upstream = Any  # a socket-like with recv/sendall/fileno/close
BUFFER_BYTES = 65536


class PortForwarder:
    def __init__(self, open_upstream: Callable[[], Upstream], name: str, on_error: Callable[[str], None] | None = None):
        self.open_upstream = open_upstream
        self.name = name
        self.on_error = on_error
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._open: set[Any] = set()
        self.connections = 0
        self.failures = 0
        self._accept_thread = threading.Thread(target=self._accept, name=f"port-forward {name}", daemon=True)
        self._accept_thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._relay, args=(client,), name=f"relay {self.name}", daemon=True)
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket) -> None:
        upstream = None
        try:
            upstream = self.open_upstream()
        except Exception as exc:  # the pod went away or the API refused: this connection fails, not the run
            with self._lock:
                self.failures += 1
                first = self.failures == 1
            if self.on_error and not self._stop.is_set() and first:  # the first in full; close() counts the rest
                self.on_error(f"port-forward {self.name}: {exc}")
            client.close()
            return
        with self._lock:
            self.connections += 1
            self._open.update((client, upstream))
        selector = selectors.DefaultSelector()
        try:
            # Both ends stay blocking: select says which has data, so recv never waits; sendall may.
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream.fileno(), selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.5):
                    source = client if key.fileobj is client else upstream
                    data = source.recv(BUFFER_BYTES)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)
            client.close()
            upstream.close()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._listener.close()
        self._accept_thread.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        if self.on_error and self.failures > 1:
            self.on_error(f"port-forward {self.name}: {self.failures} connections could not be forwarded")


def pod_upstream(api: KubeApi, namespace: str, port: int, choose_pod: Callable[[], str]) -> Callable[[], Upstream]:
    """An opener of one API-server port-forward to `choose_pod()`:`port` per call."""
    from kubernetes.stream import ws_client

    def open_upstream() -> Upstream:
        pod = choose_pod()
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward"
        api._record("GET", path, {"ports": port}, None)
        method, url, headers, _, _ = api.api_client.param_serialize(
            "GET", path, query_params=[("ports", str(port))], auth_settings=["BearerToken"]
        )
        forward = ws_client.portforward_call(  # type: ignore[no-untyped-call]
            api.api_client.configuration, method, url, headers=headers
        )
        return _ForwardSocket(forward, port)

    return open_upstream


class _ForwardSocket:
    """The data socket of one `ws_client.PortForward`, closing the forward with it."""

    def __init__(self, forward: Any, port: int) -> None:
        self._forward = forward
        self._socket = forward.socket(port)
        self._socket.setblocking(True)

    def fileno(self) -> int:
        return int(self._socket.fileno())

    def recv(self, size: int) -> bytes:
        return bytes(self._socket.recv(size))

    def sendall(self, data: bytes) -> None:
        self._socket.sendall(data)

    def close(self) -> None:
        self._forward.close()


def round_robin(ready_pods: Callable[[], list[str]], what: str) -> Callable[[], str]:
    """A chooser cycling over whatever `ready_pods()` returns now; TargetError when there is none."""
    counter = itertools.count()

    def choose() -> str:
        pods = ready_pods()
        if not pods:
            raise TargetError(f"no ready pod behind {what}")
        return pods[next(counter) % len(pods)]

    return choose
