"""`hpabench` command line: thin wiring of the stages, with meaningful exit codes.

Exit codes: 0 pass, 1 tool error, 2 invalid input, 3 thresholds failed, 130 interrupted.
Every command imports its stage lazily so `hpabench --help` is instant and an error in one stage
cannot break the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from hpabench import __version__
from hpabench.console import Console
from hpabench.deploy.k8s.cli import add_gc_command, add_k8s_arguments
from hpabench.errors import (
    EXIT_INVALID_INPUT,
    EXIT_OK,
    EXIT_TOOL_ERROR,
    HpabenchError,
    RunInterrupted,
    SpecError,
    SpecIssue,
)
from hpabench.inputfile import check_output_dir, check_output_file, require_outputs
from hpabench.pipeline import DEFAULT_REPORTS_DIR
from hpabench.termtext import escape_controls
from hpabench.tuning_cli import add_commands, add_set_option


def _path(text: str) -> Path:
    """A path argument; an empty one is a usage error (Path("") would silently mean ".")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return Path(text)


def _cmd_render(args: argparse.Namespace) -> int:
    from hpabench.deploy.render import dump_yaml, render_objects

    if args.helm_values:
        from hpabench.deploy.helm_values import dump_helm_values
        from hpabench.deploy.variant import resolve_variant

        if args.validate is not None:
            raise SpecError(SpecIssue("render", "--validate", "validates rendered manifests, not --helm-values"))
        sys.stdout.write(dump_helm_values(resolve_variant(args.variant, args.overrides), args.image))
        return EXIT_OK
    objects = render_objects(args.variant, args.image, args.overrides)
    if args.validate is not None:
        from hpabench.deploy.schema_check import validate_objects

        issues = validate_objects(objects, args.validate, str(args.variant or "deploy/manifests"))
        if issues:
            raise SpecError(issues, headline=f"rendered manifests are invalid for Kubernetes {args.validate}:")
    sys.stdout.write(dump_yaml(objects))
    return EXIT_OK


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from hpabench.scenarios.catalogue import list_scenarios, load_scenario
    from hpabench.scenarios.drive.driver import format_planned_table

    if args.action == "show":
        if not args.name:
            raise SpecError(SpecIssue("scenarios show", "NAME", "missing: give a catalogue name or a YAML path"))
        scenario = load_scenario(args.name)
        print(escape_controls(format_planned_table(scenario, args.time_scale, args.step_s)))
        return EXIT_OK
    rows = list_scenarios()
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        print(escape_controls(f"{name:<{width}}  {description}"))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from hpabench.deploy.k8s.cli import target_settings_from_args
    from hpabench.pipeline import RunOptions, run_benchmark

    options = RunOptions(
        scenario=args.scenario,
        variant=args.variant,
        target=args.target,
        time_scale=args.time_scale,
        workers=args.workers,
        locustfile=args.locustfile,
        allow_external_target=args.allow_external_target,
        reports_dir=args.reports_dir,
        autoscale=not args.no_autoscale,
        scrape_interval_s=args.scrape_interval_s,
        image=args.image,
        label=args.label,
        max_duration_s=args.max_duration,
        target_settings=target_settings_from_args(args),
        variant_overrides=tuple(args.overrides),
    )
    if args.dry_run:
        from hpabench.pipeline import dry_run

        print(dry_run(options))
        return EXIT_OK
    outcome = run_benchmark(options, Console())
    print(json.dumps({"run": str(outcome.run_path), "status": outcome.status, "flags": list(outcome.flags)}))
    return outcome.exit_code


def _cmd_report(args: argparse.Namespace) -> int:
    from hpabench.pipeline import finish_report

    print(finish_report(args.run, Console(), plotlyjs=args.plotlyjs))
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from hpabench.analysis.report import write_compare_report
    from hpabench.analysis.runcheck import check_run_dir

    out = args.out or (args.reports_dir / "compare.html")
    require_outputs(check_output_file(out, "--out"))
    console = Console()
    for run in args.runs:
        for warning in check_run_dir(run, summary_suffices=True).warnings():
            console.warn(warning)
    path = write_compare_report(list(args.runs), out, plotlyjs=args.plotlyjs)
    print(path)
    return EXIT_OK


def _cmd_gate(args: argparse.Namespace) -> int:
    from hpabench.analysis.gate import gate, write_junit, write_markdown

    outputs = [(args.junit, "--junit"), (args.markdown, "--markdown")]
    require_outputs(
        [issue for path, option in outputs if path is not None for issue in check_output_file(path, option)]
    )
    result = gate(args.run, args.baseline, args.thresholds)
    if args.junit:
        write_junit(result, args.junit)
    if args.markdown:
        write_markdown(result, args.markdown)
    print(escape_controls(result.describe()))
    return int(result.exit_code)


def _cmd_baseline(args: argparse.Namespace) -> int:
    from hpabench.analysis.baseline import make_baseline, write_baseline

    require_outputs(check_output_file(args.out, "--out"))
    baseline = make_baseline(list(args.runs))
    write_baseline(baseline, args.out)
    print(args.out)
    return EXIT_OK


def _local_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hpabench.deploy.local.cluster import LocalSettings

    return LocalSettings(scrape_interval_s=args.scrape_interval_s, autoscale=not args.no_autoscale)


def _cmd_up(args: argparse.Namespace) -> int:
    from hpabench.cliinput import scrape_interval_issues
    from hpabench.deploy.local.daemon import up
    from hpabench.deploy.render import render_objects

    issues = scrape_interval_issues(args.scrape_interval_s) + check_output_dir(args.reports_dir, "--reports-dir")
    if issues:
        raise SpecError(issues, headline="invalid command-line values:")
    objects = render_objects(args.variant, args.image, args.overrides)
    info = up(objects, args.reports_dir, _local_settings(args))
    for key, value in info.items():
        print(f"{key}: {value}")
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from hpabench.deploy.local.daemon import format_status, has_stack, hpa_status, stack_urls, status
    from hpabench.errors import TargetError
    from hpabench.lifeline import active_runs

    runs = [r for r in active_runs(args.reports_dir) if r["runner_alive"]]
    if not has_stack(args.reports_dir) and not runs:
        raise TargetError("no local stack is running (start one with: hpabench up)")
    if has_stack(args.reports_dir):
        for label, url in stack_urls(args.reports_dir).items():
            print(f"{label}: {url}")
        print(format_status(status(args.reports_dir)))
        for description in hpa_status(args.reports_dir):
            print()
            print(description)
    for found in runs:
        record, urls = found["record"], found["record"].get("urls") or {}
        if found["run_dir"] == _up_run_dir(args.reports_dir):
            continue
        print(f"\nhpabench run (pid {record['runner']['pid']}): {found['run_dir']}")
        for label, url in urls.items():
            print(f"{label}: {url}")
        processes = sum(len(g.get("processes") or []) for g in record["groups"].values())
        print(f"processes: {processes} recorded (stop with: hpabench down --run {found['run_dir']})")
    return EXIT_OK


def _up_run_dir(reports_dir: Path) -> str | None:
    stack_file = reports_dir / ".local" / "stack.json"
    try:
        return str(json.loads(stack_file.read_text()).get("run_dir"))
    except (OSError, ValueError):
        return None


def _cmd_down(args: argparse.Namespace) -> int:
    """Stop the `up` stack and every run whose stack is still recorded as active (or just
    `--run DIR`); exit 0 when there was nothing to stop, as `docker compose down` does."""
    from hpabench.deploy.local.daemon import down, has_stack
    from hpabench.errors import TargetError
    from hpabench.lifeline import active_runs, stop_run

    stopped, problems = [], []
    if args.run is None and has_stack(args.reports_dir):
        down(args.reports_dir)
        stopped.append("the local stack (hpabench up)")
    run_dirs = [args.run] if args.run is not None else [Path(r["run_dir"]) for r in active_runs(args.reports_dir)]
    for run_dir in run_dirs:
        problems += stop_run(run_dir)
        stopped.append(str(run_dir))
    if problems:
        raise TargetError("hpabench down left things behind:\n  " + "\n  ".join(problems))
    print("stopped: " + ", ".join(stopped) if stopped else "nothing to stop")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpabench",
        description="Load-testing and autoscaling benchmarks for Kubernetes web tiers.",
        epilog=(
            "Exit codes: 0 ok, 1 tool error, 2 invalid input, 3 thresholds failed, "
            "4 load invalid (run: the generators did not deliver the planned load; flag load_invalid), 130 interrupted."
        ),
    )
    parser.add_argument("--version", action="version", version=f"hpabench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text)

    def reports_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reports-dir", type=_path, default=DEFAULT_REPORTS_DIR, help="default: reports/")

    def plotlyjs_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--plotlyjs",
            choices=["embed", "shared"],
            default="embed",
            help="embed plotly.js in the page (default), or link one shared copy written beside the reports",
        )

    def variant_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--variant", type=_path, help="variant YAML (default: the baseline)")
        p.add_argument("--image", help="override the web image (default: hpabench/refapp:<version>)")
        add_set_option(p)

    p = add("render", "print the rendered Kubernetes manifests (multi-document YAML for kubectl apply -f -)")
    variant_args(p)
    p.add_argument("--validate", metavar="K8S_VERSION", help="validate against this Kubernetes version's schema")
    p.add_argument(
        "--helm-values",
        action="store_true",
        help="print the resolved variant knobs as values for deploy/helm/hpabench-reference instead",
    )
    p.set_defaults(func=_cmd_render)

    p = add("scenarios", "list the traffic profiles, or show one's planned curve")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--step-s", type=float, default=10.0, help="table resolution in seconds (default 10)")
    p.set_defaults(func=_cmd_scenarios)

    p = add("run", "deploy, load, collect, tear down, analyze and report one benchmark run")
    p.add_argument("--scenario", required=True, help="catalogue name (see `hpabench scenarios`) or a YAML path")
    variant_args(p)
    p.add_argument("--target", default="local", help="where to deploy: local (default, this machine) or k8s")
    p.add_argument("--time-scale", type=float, default=1.0, help="compress time, e.g. 0.25 = 4x shorter")
    p.add_argument("--workers", type=int, default=0, help="Locust distributed mode with N workers")
    p.add_argument("--locustfile", type=_path, help="your own locustfile (User classes + LoadTestShape)")
    p.add_argument(
        "--max-duration",
        type=float,
        metavar="SECONDS",
        help="bound of a run whose --locustfile brings its own LoadTestShape (required then; the shape is the plan)",
    )
    p.add_argument("--allow-external-target", action="store_true", help="allow load to non-loopback hosts")
    p.add_argument("--no-autoscale", action="store_true", help="keep the web tier at minReplicas")
    p.add_argument("--scrape-interval-s", type=float, default=5.0)
    p.add_argument("--label", help="run directory label (default: <scenario>-<variant>)")
    p.add_argument("--dry-run", action="store_true", help="check every input, print the plan, start nothing")
    reports_dir(p)
    add_k8s_arguments(p)
    p.set_defaults(func=_cmd_run)

    p = add("report", "(re)build summary.json and report.html of a run directory, offline")
    p.add_argument("run", type=_path)
    plotlyjs_arg(p)
    p.set_defaults(func=_cmd_report)

    p = add("compare", "side-by-side report of several runs (repeats of a variant are grouped)")
    p.add_argument("runs", type=_path, nargs="+")
    p.add_argument("--out", type=_path, help="output HTML (default: reports/compare.html)")
    plotlyjs_arg(p)
    reports_dir(p)
    p.set_defaults(func=_cmd_compare)

    p = add("gate", "check a run against a baseline and thresholds (exit 3 on failure)")
    p.add_argument("run", type=_path)
    p.add_argument("--baseline", type=_path, required=True)
    p.add_argument("--thresholds", type=_path)
    p.add_argument("--junit", type=_path)
    p.add_argument("--markdown", type=_path)
    p.set_defaults(func=_cmd_gate)

    p = add("baseline", "write a baseline file from one or more runs")
    p.add_argument("runs", type=_path, nargs="+")
    p.add_argument("--out", type=_path, required=True)
    p.set_defaults(func=_cmd_baseline)

    for name, help_text, func in (
        ("up", "start the local stack in the background; returns when every pod is ready", _cmd_up),
        ("status", "show the local stack's pods like `kubectl get pods`", _cmd_status),
        ("down", "stop the local stack and remove everything it created", _cmd_down),
    ):
        p = add(name, help_text)
        reports_dir(p)
        if name == "down":
            p.add_argument("--run", type=Path, help="stop only this run directory's recorded stack")
        if name == "up":
            variant_args(p)
            p.add_argument("--scrape-interval-s", type=float, default=5.0)
            p.add_argument("--no-autoscale", action="store_true")
        p.set_defaults(func=func)
    add_gc_command(sub)
    add_commands(add, reports_dir)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HpabenchError as exc:
        print(escape_controls(f"hpabench: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hpabench: interrupted", file=sys.stderr)
        return RunInterrupted.exit_code
    except BrokenPipeError:  # `hpabench render | head`
        return EXIT_OK
    except OSError as exc:  # a file system refusal the input checks could not foresee (a race, a full disk)
        print(escape_controls(f"hpabench: error: {exc}"), file=sys.stderr)
        return EXIT_TOOL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["EXIT_INVALID_INPUT", "build_parser", "main"]
