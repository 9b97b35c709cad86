"""CLI commands of the tuning review: `variants`, `diff-variants`, `study run|plan|report`.

`add_commands(add)` registers them on the main parser (`add(name, help) -> ArgumentParser`);
`add_set_option(parser)` adds the repeated `--set path=value` option to run/render/up.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from hpabench.errors import EXIT_OK

AddParser = Callable[[str, str], argparse.ArgumentParser]


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a variant knob, e.g. --set web.resources.limits.cpu=1 (repeatable; value is YAML)",
    )


def _cmd_variants(args: argparse.Namespace) -> int:
    from hpabench.deploy.variant_catalogue import list_variants

    infos = list_variants()
    width = max((len(info.name) for info in infos), default=0)
    for info in infos:
        parent = f" (extends {' > '.join(info.extends)})" if info.extends else ""
        print(f"{info.name:<{width}}  {info.description}{parent}")
    return EXIT_OK


def _cmd_diff_variants(args: argparse.Namespace) -> int:
    from hpabench.deploy.variant import load_variant
    from hpabench.deploy.variant_catalogue import diff_variants, variant_ref

    a = load_variant(variant_ref(args.a))
    b = load_variant(variant_ref(args.b), args.overrides)
    text = diff_variants(a, b, image=args.image)
    print(text if text else f"{a.name} and {b.name} render the same objects", end="" if text else "\n")
    return EXIT_OK


def _cmd_study(args: argparse.Namespace) -> int:
    from hpabench.study.runner import study_command

    return study_command(args)


def add_commands(add: AddParser, reports_dir: Callable[[argparse.ArgumentParser], None]) -> None:
    p = add("variants", "list the shipped variants (deploy/variants/) with what they change")
    p.set_defaults(func=_cmd_variants)

    p = add("diff-variants", "show how two variants differ in the rendered Kubernetes objects")
    p.add_argument("a", help="variant name (see `hpabench variants`) or YAML path")
    p.add_argument("b", help="variant name or YAML path (--set applies to this one)")
    p.add_argument("--image", help="override the web image in both")
    add_set_option(p)
    p.set_defaults(func=_cmd_diff_variants)

    p = add("study", "run a study (scenarios x variants x repetitions) and its comparative report")
    p.add_argument("action", choices=["run", "plan", "report"], help="run (or resume), show the plan, rebuild report")
    p.add_argument("file", type=Path, help="study spec YAML (scenarios/studies/*.yaml)")
    p.add_argument("--time-scale", type=float, help="override the study's time_scale (compressed runs)")
    p.add_argument("--out", type=Path, help="study directory (default: reports/study-<name>)")
    p.add_argument("--search", choices=["optuna"], help="propose settings within the study's search ranges")
    p.add_argument("--budget", type=int, default=0, help="number of proposed settings with --search")
    reports_dir(p)
    p.set_defaults(func=_cmd_study)
