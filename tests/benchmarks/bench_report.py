"""Report rendering speed and size (1-hour, 20-pod synthetic runs): see tests.benchmarks.report_engine."""

import sys

from tests.benchmarks.report_engine import main

if __name__ == "__main__":
    sys.exit(main())
