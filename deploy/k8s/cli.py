"""The k8s target's command-line options and the `gc` command, hooked into `hpabench.cli`.

`add_k8s_arguments(run_parser)` adds the `--context`/`--kubeconfig`/... options to `run`;
`target_settings_from_args(args)` turns them into `RunOptions.target_settings` (only for
`--target k8s`; given with another target they are an error, not silently ignored);
`--helm` becomes `helm: {variant, overrides}` (the chart values are resolved from the same
`--variant`/`--set` the run renders); with another target it is refused (exit 2).
`add_gc_command(subparsers)` registers `hpabench gc`. Nothing here imports the kubernetes client.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hpabench.errors import EXIT_OK, EXIT_TOOL_ERROR, SpecError, SpecIssue

# option dest → K8sSettings field
_SETTINGS = {
    "k8s_kubeconfig": "kubeconfig",
    "k8s_context": "context",
    "k8s_namespace_prefix": "namespace_prefix",
    "k8s_prometheus_url": "prometheus_url",
    "k8s_ready_timeout_s": "ready_timeout_s",
    "k8s_monitors": "monitors",
    "k8s_load_from": "load_from",
    "k8s_loadgen_image": "loadgen_image",
    "k8s_expect_workers": "expect_workers",
    "k8s_expect_workers_wait_s": "expect_workers_wait_s",
}
_HPA_FLAGS = {
    "k8s_hpa_sync_period_s": "sync_period_s",
    "k8s_hpa_tolerance": "tolerance",
    "k8s_hpa_downscale_stabilization_s": "downscale_stabilization_s",
}


def _connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", dest="k8s_kubeconfig", type=Path, help="k8s: kubeconfig file (default: $KUBECONFIG)")
    p.add_argument("--context", dest="k8s_context", help="k8s: kubeconfig context (default: the current one)")


def add_k8s_arguments(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("k8s target (--target k8s)")
    _connection_arguments(group)  # type: ignore[arg-type]
    group.add_argument("--namespace-prefix", dest="k8s_namespace_prefix", help="per-run namespace prefix (hpabench)")
    group.add_argument("--prometheus-url", dest="k8s_prometheus_url", help="a reachable Prometheus (default: discover)")
    group.add_argument("--ready-timeout-s", dest="k8s_ready_timeout_s", type=float, help="readiness wait (300)")
    group.add_argument("--monitors", dest="k8s_monitors", choices=["auto", "on", "off"], help="PodMonitors (auto)")
    group.add_argument(
        "--load-from",
        dest="k8s_load_from",
        choices=["runner", "cluster"],
        help="where Locust runs: this machine via a port-forward (runner, default) or pods in the run's namespace",
    )
    group.add_argument("--loadgen-image", dest="k8s_loadgen_image", help="--load-from cluster: hpabench+Locust image")
    group.add_argument(
        "--expect-workers", dest="k8s_expect_workers", type=int, help="--load-from cluster: Locust worker pods (2)"
    )
    group.add_argument(
        "--expect-workers-wait-s", dest="k8s_expect_workers_wait_s", type=float, help="wait for them (120)"
    )
    group.add_argument(
        "--helm",
        dest="k8s_helm",
        action="store_true",
        default=None,
        help="deploy with `helm upgrade --install` of deploy/helm/hpabench-reference (values from the variant) "
        "instead of applying the rendered objects; needs helm v4 (`make tools`)",
    )
    group.add_argument("--hpa-sync-period-s", dest="k8s_hpa_sync_period_s", type=float, help="fact to record (15)")
    group.add_argument("--hpa-tolerance", dest="k8s_hpa_tolerance", type=float, help="fact to record (0.1)")
    group.add_argument(
        "--hpa-downscale-stabilization-s", dest="k8s_hpa_downscale_stabilization_s", type=float, help="fact (300)"
    )


def target_settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    given = {field: getattr(args, dest) for dest, field in _SETTINGS.items() if getattr(args, dest, None) is not None}
    flags = {field: getattr(args, dest) for dest, field in _HPA_FLAGS.items() if getattr(args, dest, None) is not None}
    if flags:
        given["hpa_flags"] = {**flags, "source": "user-supplied (--hpa-* options)"}
    if getattr(args, "k8s_helm", None):
        if getattr(args, "target", "local") != "k8s":
            raise SpecError(
                [
                    SpecIssue(
                        "command line",
                        "--helm",
                        f"--helm installs the chart into a cluster: it needs --target k8s "
                        f"(the {getattr(args, 'target', 'local')} target runs the rendered objects itself)",
                    )
                ]
            )
        helm: dict[str, Any] = {"overrides": list(getattr(args, "overrides", None) or [])}
        if getattr(args, "variant", None) is not None:
            helm["variant"] = args.variant
        given["helm"] = helm
    if getattr(args, "target", "local") != "k8s":
        if given:
            options = ", ".join(sorted(given))
            raise SpecError([SpecIssue("command line", "", f"k8s options ({options}) need --target k8s")])
        return {}
    return given


def _cmd_gc(args: argparse.Namespace) -> int:
    from hpabench.deploy.k8s.api import KubeApi
    from hpabench.deploy.k8s.gc import collect_garbage

    with KubeApi.connect(args.k8s_kubeconfig, args.k8s_context) as api:
        found = collect_garbage(api, args.older_than_s, args.dry_run, progress=print)
    for name, age_s, action in found:
        age = "?" if age_s is None else f"{age_s / 60:.0f} min"
        print(f"{name}  age {age}  {action}")
    if not found:
        print("no hpabench namespaces found")
    return EXIT_TOOL_ERROR if any(action.startswith("failed") for _, _, action in found) else EXIT_OK


def add_gc_command(sub: Any) -> None:
    text = "delete namespaces left behind by killed k8s runs (label app.kubernetes.io/managed-by=hpabench)"
    p = sub.add_parser("gc", help=text, description=text)
    _connection_arguments(p)
    p.add_argument("--older-than-s", type=float, default=3600.0, help="only namespaces older than this (3600)")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    p.set_defaults(func=_cmd_gc)
