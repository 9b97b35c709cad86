"""Free TCP ports on 127.0.0.1, and waiting for a port to accept connections.

`PortAllocator` hands out ports the kernel reports free and remembers them, so two servers of the
same stack never get the same port even before either has bound it; `release_all` forgets them.
There is an unavoidable window between choosing a port and the server binding it; servers that
lose it fail to start, which the caller reports.
"""

from __future__ import annotations

import socket
import threading
import time

from hpabench.stack import port_in_use

LOOPBACK = "127.0.0.1"

# Ports handed out by any allocator in this process (several stacks may run in one test process).
_TAKEN: set[int] = set()
_TAKEN_LOCK = threading.Lock()


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """True if nothing listens on host:port (a bind succeeds; TIME_WAIT leftovers do not count)."""
    return not port_in_use(port, host)


def is_port_open(port: int, host: str = LOOPBACK, timeout_s: float = 0.2) -> bool:
    """True if a TCP connect to host:port succeeds within timeout_s."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_port_open(port: int, timeout_s: float, host: str = LOOPBACK) -> bool:
    """Poll until host:port accepts a connection; False after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_port_open(port, host):
            return True
        time.sleep(0.05)
    return False


class PortAllocator:
    """Allocates distinct free loopback ports and remembers which it handed out."""

    def __init__(self) -> None:
        self.ports: list[int] = []

    def allocate(self) -> int:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((LOOPBACK, 0))
                port = int(sock.getsockname()[1])
            with _TAKEN_LOCK:
                if port in _TAKEN:
                    continue
                _TAKEN.add(port)
            self.ports.append(port)
            return port
        raise OSError("could not find a free port on 127.0.0.1")

    def release(self, port: int) -> None:
        with _TAKEN_LOCK:
            _TAKEN.discard(port)
        if port in self.ports:
            self.ports.remove(port)

    def release_all(self) -> None:
        for port in list(self.ports):
            self.release(port)
