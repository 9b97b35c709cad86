"""The ASGI entry point: `python -m uvicorn hpabench_refapp.main:app --host 127.0.0.1 --port $PORT`.

The configuration is read from the environment at import time, so a bad variable stops the
process before it listens, with one clear message on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import os

from hpabench_refapp.app import create_app
from hpabench_refapp.config import ConfigError, Settings
from hpabench_refapp.logs import configure_logging, fail_config

try:
    settings = Settings.from_env(os.environ)
except ConfigError as exc:
    raise fail_config(exc) from None

configure_logging(settings.log_level)
app = create_app(settings)
