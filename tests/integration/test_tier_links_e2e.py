"""An impaired web→db tier on the local target, end to end: the variant's netem knob (a
bandwidth limit, which this kernel can apply with tbf) routes the app's PostgreSQL traffic
through a network namespace the suite made; the traffic crosses the qdisc; teardown removes the
namespace, the veth pair and the relays."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hpabench.console import Console
from hpabench.deploy.local import netns
from hpabench.pipeline import RunOptions, run_benchmark
from hpabench.scenarios.drive.driver import run_load

from .test_local_support import processes_using

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


def test_web_db_link_carries_the_db_traffic_and_leaves_no_trace(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "impaired tiers need root"
    seen: dict[str, Any] = {}

    def driver(config: Any, progress: Any = None) -> Any:
        result = run_load(config, progress)
        # Still deployed: the link exists, and the DB traffic of the load went through its qdisc.
        mine = [name for name in netns.leftovers(os.getpid()) if name.endswith("h")]
        seen["links"] = mine
        stats = subprocess.run(["tc", "-s", "qdisc", "show", "dev", mine[0]], capture_output=True, text=True)
        seen["stats"] = stats.stdout
        return result

    options = RunOptions(
        scenario=str(HERE / "studies" / "step-short.yaml"),
        variant_overrides=("networking.netem.web_db={rate_mbit: 200}",),
        reports_dir=tmp_path,
        scrape_interval_s=1.0,
    )
    outcome = run_benchmark(options, Console(quiet=True), driver=driver)
    assert outcome.status == "completed", outcome.error
    assert len(seen["links"]) == 1, seen
    assert "tbf" in seen["stats"]
    sent = re.search(r"Sent (\d+) bytes (\d+) pkt", seen["stats"])
    assert sent is not None and int(sent.group(2)) > 50, seen["stats"]  # DB responses crossed the link
    assert netns.leftovers(os.getpid()) == []
    assert processes_using(tmp_path) == []
    assert (outcome.run_path / "tierlinks" / "postgres-ns.cfg").is_file()
