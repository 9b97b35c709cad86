"""Tier links (network namespaces + veth pairs + qdiscs) are set up and removed without a trace,
also when the process is interrupted with Ctrl-C or SIGTERM, and a SIGKILLed run's leftovers are
removed by `remove_stale`. Needs root (CAP_NET_ADMIN), like the netem variants themselves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from hpabench.deploy.local import netns

pytestmark = pytest.mark.integration

RATE_ONLY = netns.qdisc_args(rate_mbit=50)  # tbf: works on kernels without sch_netem
CHILD = """
import signal, sys, time
from hpabench.deploy.local import netns

def term(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, term)
with netns.tier_links([netns.qdisc_args(rate_mbit=50), netns.qdisc_args(rate_mbit=20)]) as links:
    print("READY", flush=True)
    while True:
        time.sleep(0.2)
"""


def _qdiscs(dev: str, namespace: str | None = None) -> str:
    argv = ["tc", *(["-n", namespace] if namespace else []), "qdisc", "show", "dev", dev]
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


@pytest.fixture(autouse=True)
def _root() -> None:
    assert os.geteuid() == 0, "tier links need root; the suite refuses netem variants without it"


def test_link_is_made_usable_and_removed_without_trace() -> None:
    before_links = set(netns.links())
    with netns.tier_links([RATE_ONLY]) as (link,):
        assert link.namespace in netns.namespaces()
        assert "tbf" in _qdiscs(link.host_if) and "tbf" in _qdiscs(link.ns_if, link.namespace)
        # The pair really carries traffic: from inside the namespace to a listener on the host end.
        with socket.create_server((link.host_ip, 0)) as server:
            port = server.getsockname()[1]
            code = f"import socket; socket.create_connection(({link.host_ip!r}, {port}), timeout=10).close()"
            probe = subprocess.run(
                ["ip", "netns", "exec", link.namespace, sys.executable, "-c", code], capture_output=True, check=False
            )
            assert probe.returncode == 0, probe.stderr.decode()
            server.settimeout(10)
            accepted, _ = server.accept()
            accepted.close()
        assert set(netns.links()) - before_links == {link.host_if}  # nothing else touched
    assert netns.leftovers(os.getpid()) == []
    assert set(netns.links()) == before_links


def test_failed_setup_removes_what_it_made() -> None:
    with pytest.raises(Exception, match="qdisc"):
        netns.TierLink.create(7, ["no-such-qdisc-kind"])
    assert netns.leftovers(os.getpid()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_process_leaves_nothing_behind(sig: signal.Signals) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().decode()
        assert line.strip() == "READY", child.stderr.read().decode() if child.stderr else ""
        assert len(netns.leftovers(child.pid)) == 4  # two namespaces, two host ends
        child.send_signal(sig)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert netns.leftovers(child.pid) == []


def test_remove_stale_cleans_up_after_sigkill() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().decode().strip() == "READY"
        child.kill()
        child.communicate(timeout=30)
        assert netns.leftovers(child.pid) != []  # SIGKILL: no chance to clean up
        deadline = time.monotonic() + 30
        while netns.leftovers(child.pid) and time.monotonic() < deadline:
            netns.remove_stale()
        assert netns.leftovers(child.pid) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
