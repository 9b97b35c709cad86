"""Suite-wide set-up that every test relies on."""

from __future__ import annotations

import signal

# A shell that starts the suite in the background (`make test &`, some CI runners) leaves SIGINT
# ignored, and every child inherits SIG_IGN: the Ctrl-C tests would signal a `hpabench run` or a
# driver that never sees it. A Python-level handler here is reset to the default by exec, so the
# children the tests start get Ctrl-C exactly as from a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)
