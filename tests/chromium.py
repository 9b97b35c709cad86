"""Headless Chromium for the report tests and the report benchmark: load a page with a probe
script injected and read back what the probe wrote into the DOM.

Why the Chromium command line (`--dump-dom`) and not Playwright or the DevTools protocol: it
needs no new dependency (Chromium is installed for this), and a page that only has to load, run
its scripts and report is exactly what `--dump-dom` gives. `--virtual-time-budget` makes
Chromium wait until the page is idle (promises, timers) before it dumps the DOM; script
execution still runs in real time, so `performance.now()` read by a probe measures real work.

The probe is injected at the top of <head> of a *copy* of the page (the page itself is not
changed); it must append `<pre id="hpabench-probe-result">JSON</pre>` to the body.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1200,900",  # a laptop-sized window: charts are laid out at the page's full width
)
# Generous: the machine is shared; a page that needs more than this is broken, not slow.
TIMEOUT_S = 180.0
RESULT_RE = re.compile(r'<pre id="hpabench-probe-result">(.*?)</pre>', re.S)
# Scripts blocked by Content-Security-Policy, as CI artefact viewers do (the no-JavaScript
# view). Not `--blink-settings=scriptEnabled=false`: `--dump-dom` itself needs scripting.
BLOCK_SCRIPTS = '<meta http-equiv="Content-Security-Policy" content="script-src \'none\'">'


def run_chromium(args: Sequence[str], profile: Path, timeout_s: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run Chromium in its own process group so a hang or a failure never leaves it behind."""
    assert Path(CHROMIUM).exists(), "Chromium is required (apt-get install -y chromium)"
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # helpers (zygote, gpu) may outlive the browser
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def dump_dom(
    html_path: Path, probe: str = "", extra_flags: Sequence[str] = (), budget_ms: int = 30000
) -> subprocess.CompletedProcess[str]:
    """Load a copy of `html_path` (beside it, so relative links resolve) with `probe` injected at
    the top of <head>; return Chromium's result (stdout = the DOM after the page went idle)."""
    html = html_path.read_text(encoding="utf-8")
    copy = html_path.with_name(f"probe-{html_path.name}")
    copy.write_text(html.replace("<head>", "<head>" + probe, 1) if probe else html, encoding="utf-8")
    profile = Path(tempfile.mkdtemp(prefix="hpabench-chromium-"))
    try:
        done = run_chromium([*extra_flags, f"--virtual-time-budget={budget_ms}", "--dump-dom", copy.as_uri()], profile)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        copy.unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def probe_result(dom: str) -> dict[str, Any]:
    """The JSON the probe wrote into the dumped DOM."""
    match = RESULT_RE.search(dom)
    assert match is not None, "the page never finished loading (no probe result in the DOM)"
    text = match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    result: dict[str, Any] = json.loads(text)
    return result


def screenshot(html_path: Path, out_png: Path, width_px: int, height_px: int) -> None:
    """A full-window screenshot of `html_path` (after scripts ran) into `out_png`."""
    profile = Path(tempfile.mkdtemp(prefix="hpabench-chromium-"))
    try:
        out_png.parent.mkdir(parents=True, exist_ok=True)
        run_chromium(
            [
                f"--window-size={width_px},{height_px}",  # the later flag wins
                "--virtual-time-budget=30000",
                f"--screenshot={out_png}",
                html_path.as_uri(),
            ],
            profile,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
