"""Choosing in-cluster load: the CLI options, the settings' default, and the permissions it adds."""

from __future__ import annotations

from hpabench.cli import build_parser
from hpabench.deploy.k8s.cli import target_settings_from_args
from hpabench.deploy.k8s.permissions import covers, required_rules
from hpabench.deploy.k8s.settings import settings_from_extra
from hpabench.deploy.render import render
from hpabench.deploy.variant import default_variant

from .test_rbac import granted_rules


def test_cli_options_choose_where_load_comes_from() -> None:
    args = build_parser().parse_args(
        ["run", "--scenario", "spike", "--target", "k8s", "--load-from", "cluster", "--expect-workers", "4"]
    )
    settings = settings_from_extra(target_settings_from_args(args))
    assert (settings.load_from, settings.expect_workers) == ("cluster", 4)
    assert settings_from_extra({}).load_from == "runner"  # the default: the small-run mode


def test_in_cluster_permissions_are_declared_and_granted() -> None:
    rules = required_rules(render(default_variant()), True, True, monitors=True, in_cluster_load=True)
    assert [str(r) for r in rules if not covers(granted_rules(), r)] == []
