"""Logging setup shared by the server and the migration: one stderr line per record."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    """Send `hpabench_refapp.*` records at `level` (a LOG_LEVEL name) and above to stderr."""
    logger = logging.getLogger("hpabench_refapp")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    # uvicorn configures its own loggers; ours must not also reach the root's handlers.
    logger.propagate = False


def fail_config(problem: Exception) -> SystemExit:
    """Print a configuration problem as one clear message and return the exit to raise (code 2)."""
    print(f"hpabench-refapp: {problem}", file=sys.stderr, flush=True)
    return SystemExit(2)
