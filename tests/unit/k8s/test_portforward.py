"""The loopback listener relaying each connection to an upstream; round-robin over ready pods.

The upstream here is a local TCP server (the real one is an API-server port-forward stream, which
the emulator cannot serve): what is tested is the relay and the choice of pod per connection."""

from __future__ import annotations

import socket
import threading

import pytest

from hpabench.deploy.k8s.portforward import PortForwarder, round_robin
from hpabench.errors import TargetError


class EchoServer:
    """Answers each line with `<name>:<line>`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(f"{self.name}:".encode() + data)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(2)


def test_connections_are_relayed_and_spread_over_ready_pods() -> None:
    servers = {name: EchoServer(name) for name in ("web-a", "web-b")}
    ready = ["web-a", "web-b"]
    choose = round_robin(lambda: list(ready), "Service/web")
    forwarder = PortForwarder(lambda: socket.create_connection(("127.0.0.1", servers[choose()].port)), "web")
    try:
        answers = []
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", forwarder.port), timeout=5) as client:
                client.sendall(b"hi")
                answers.append(client.recv(100).decode())
        assert sorted(answers) == ["web-a:hi", "web-a:hi", "web-b:hi", "web-b:hi"]
        assert forwarder.url == f"http://127.0.0.1:{forwarder.port}" and forwarder.connections == 4
    finally:
        forwarder.close()
        for server in servers.values():
            server.close()


def test_no_ready_pod_is_an_error_naming_the_service() -> None:
    with pytest.raises(TargetError, match="no ready pod behind Service/web"):
        round_robin(lambda: [], "Service/web")()


def test_failed_upstreams_are_reported_once_then_counted() -> None:
    said: list[str] = []

    def refuse() -> socket.socket:
        raise OSError("pod web-a is gone")

    forwarder = PortForwarder(refuse, "web", on_error=said.append)
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", forwarder.port), timeout=5) as client:
                assert client.recv(10) == b""  # the relay closes a connection it cannot forward
    finally:
        forwarder.close()
    assert said == ["port-forward web: pod web-a is gone", "port-forward web: 3 connections could not be forwarded"]
