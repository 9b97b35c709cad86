"""Seeding the HPA's sync phase relative to the load start (studies' noise control).

`PhaseAligner(deployed, data_dir, phase_s).start(predicted_t0)` places the target's HPA sync grid
`phase_s` after `predicted_t0` at once (`Deployed.align_autoscaler`, optional on a target), then
watches for the load driver's clock file (`locust_clock.json`, written at the first shape tick,
which comes a variable 0.3–3 s after the driver is called) and re-places the grid on the real
load start, so the phase is the same for every run to within the poll interval. `stop()` ends the
watcher (idempotent). A target without `align_autoscaler` gets nothing placed, only measured.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

POLL_S = 0.02
WATCH_LIMIT_S = 120.0


class PhaseAligner:
    def __init__(self, deployed: Any, data_dir: Path, phase_s: float) -> None:
        self.align = getattr(deployed, "align_autoscaler", None)
        self.data_dir = data_dir
        self.phase_s = phase_s
        self.load_t0: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def supported(self) -> bool:
        return self.align is not None

    def start(self, predicted_t0: float) -> None:
        if self.align is None:
            return
        self.align(predicted_t0, self.phase_s)
        self._thread = threading.Thread(target=self._watch, name="hpa-phase", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        from hpabench.scenarios.drive.locust_runtime import read_clock

        waited = 0.0
        while not self._stop.is_set() and waited < WATCH_LIMIT_S:
            t0 = read_clock(self.data_dir).get("t0")
            if isinstance(t0, (int, float)):
                self.load_t0 = float(t0)
                assert self.align is not None
                self.align(self.load_t0, self.phase_s)
                return
            self._stop.wait(POLL_S)
            waited += POLL_S

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
