"""Allow `python -m hpabench`."""

import sys

from hpabench.cli import main

sys.exit(main())
