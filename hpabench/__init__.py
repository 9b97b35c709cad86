"""hpabench: a load-testing and autoscaling benchmark suite for Kubernetes.

The orchestration package (CLI, run pipeline, run directory). The stages themselves live in
`hpabench.scenarios` (scenarios/), `hpabench.deploy` (deploy/) and `hpabench.analysis` (analysis/).
"""

__version__ = "0.1.0"
