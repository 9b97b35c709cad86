"""Report rendering speed and size (1-hour, 20-pod synthetic runs): see hpabench.analysis.report.benchmark."""

import sys

from hpabench.analysis.report.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
