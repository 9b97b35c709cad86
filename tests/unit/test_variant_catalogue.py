"""The tuning-review catalogue: every shipped variant renders to validated manifests; extends,
--set, the new knobs and the refusals behave."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpabench.cli import main
from hpabench.deploy.local.netem import Impairment, impairments, netem_admission, plan_links
from hpabench.deploy.render import find, render
from hpabench.deploy.render_tuning import KEEPALIVE_ANNOTATION, SCALE_POINT_ANNOTATION, SCALE_POINT_MODE_ANNOTATION
from hpabench.deploy.schema_check import validate_objects
from hpabench.deploy.variant import RPS_METRIC, load_variant, resolve_variant
from hpabench.deploy.variant_catalogue import diff_variants, list_variants
from hpabench.deploy.variant_layers import VARIANTS_DIR, apply_overrides, merge
from hpabench.errors import SpecError
from hpabench.pipeline import client_keepalive

CATALOGUE = [
    "baseline",
    "cpu-limit-tight",
    "cpu-no-limit",
    "cpu-request-double",
    "cpu-request-double-iso",
    "hpa-target-50",
    "hpa-target-80",
    "hpa-fast-scaleup",
    "hpa-no-stabilization",
    "hpa-rps-metric",
    "static-max",
    "keepalive-off",
    "lb-leastconn",
    "db-latency-5ms",
    "cache-latency-2ms",
    "small-db-pool",
]


def web_container(objects: list[dict]) -> dict:
    deployment = find(objects, "Deployment", "web")
    assert deployment is not None
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "web")


@pytest.mark.parametrize("name", CATALOGUE)
def test_every_catalogue_variant_renders_to_valid_manifests(name: str) -> None:
    variant = load_variant(VARIANTS_DIR / f"{name}.yaml")
    assert variant.name == name and variant.description
    objects = render(variant)
    assert validate_objects(objects, "1.33", name) == []
    # Each variant other than the baseline changes the rendered objects or the client.
    if name != "baseline":
        assert diff_variants(load_variant(VARIANTS_DIR / "baseline.yaml"), variant) != ""


def test_list_variants_covers_the_catalogue_and_the_old_examples() -> None:
    names = {info.name for info in list_variants()}
    assert set(CATALOGUE) | {"fast-scale-up", "big-pods", "leastconn"} <= names


def test_extends_merges_parent_and_records_the_chain(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(
        "name: parent\ndescription: p\nweb: {concurrency: 20, resources: {requests: {cpu: 300m}}}\n"
        "patches: [{kind: Service, name: web, op: add, path: /metadata/labels/a, value: x}]\n"
    )
    (tmp_path / "child.yaml").write_text(
        "name: child\nextends: parent\nweb: {resources: {limits: {cpu: '1'}}}\n"
        "patches: [{kind: Service, name: web, op: add, path: /metadata/labels/b, value: y}]\n"
    )
    variant = load_variant(tmp_path / "child.yaml")
    assert variant.name == "child" and variant.description == ""  # never inherited
    assert variant.extends == ["parent"]
    assert variant.web.concurrency == 20
    assert variant.web.resources is not None and variant.web.resources.requests is not None
    assert (variant.web.resources.requests.cpu, variant.web.resources.limits.cpu) == ("300m", "1")
    labels = find(render(variant), "Service", "web")["metadata"]["labels"]
    assert (labels["a"], labels["b"]) == ("x", "y")  # patches concatenated, parent first


def test_extends_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nextends: b\n")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a\n")
    with pytest.raises(SpecError, match="cycle"):
        load_variant(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("name: c\nextends: no-such-variant\n")
    with pytest.raises(SpecError) as caught:
        load_variant(tmp_path / "c.yaml")
    assert caught.value.issues[0].path == "extends" and "no-such-variant" in caught.value.issues[0].message


def test_set_overrides_apply_and_validate() -> None:
    variant = resolve_variant(None, ["web.resources.limits.cpu=1", "hpa.max_replicas=6"])
    container = web_container(render(variant))
    assert container["resources"]["limits"]["cpu"] == "1"
    assert variant.overrides == ["web.resources.limits.cpu=1", "hpa.max_replicas=6"]
    assert find(render(variant), "HorizontalPodAutoscaler", "web")["spec"]["maxReplicas"] == 6
    with pytest.raises(SpecError) as caught:
        resolve_variant(VARIANTS_DIR / "baseline.yaml", ["hpa.max_replicas=0"])
    assert caught.value.issues[0].path == "hpa.max_replicas"
    with pytest.raises(SpecError, match="not path=value"):
        apply_overrides({"name": "x"}, ["web.concurrency"])
    with pytest.raises(SpecError, match="not a mapping"):
        apply_overrides({"name": "x", "web": 3}, ["web.concurrency=2"])
    # null removes a key: back to the parent's value
    assert apply_overrides({"name": "x", "web": {"concurrency": 3}}, ["web.concurrency=null"])["web"] == {}


def test_merge_is_pure() -> None:
    parent = {"web": {"a": 1}, "patches": [1]}
    merged = merge(parent, {"web": {"b": 2}, "patches": [2]})
    assert merged == {"web": {"a": 1, "b": 2}, "patches": [1, 2]} and parent == {"web": {"a": 1}, "patches": [1]}


def test_iso_and_raw_scale_points() -> None:
    raw = render(load_variant(VARIANTS_DIR / "cpu-request-double.yaml"))
    iso = render(load_variant(VARIANTS_DIR / "cpu-request-double-iso.yaml"))
    raw_hpa, iso_hpa = find(raw, "HorizontalPodAutoscaler", "web"), find(iso, "HorizontalPodAutoscaler", "web")
    target = lambda hpa: hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]  # noqa: E731
    assert (target(raw_hpa), target(iso_hpa)) == (60, 30)
    assert raw_hpa["metadata"]["annotations"][SCALE_POINT_MODE_ANNOTATION] == "raw"
    assert iso_hpa["metadata"]["annotations"][SCALE_POINT_MODE_ANNOTATION] == "iso"
    # request x target: raw scales at 240m per pod, iso keeps the baseline's 200m x 60 % = 120m
    assert raw_hpa["metadata"]["annotations"][SCALE_POINT_ANNOTATION] == "240"
    assert iso_hpa["metadata"]["annotations"][SCALE_POINT_ANNOTATION] == "120"
    with pytest.raises(SpecError, match="iso rescales"):
        render(resolve_variant(VARIANTS_DIR / "cpu-request-double-iso.yaml", ["hpa.target_cpu_utilization=40"]))


def test_no_limit_rps_metric_static_and_readiness() -> None:
    assert "cpu" not in web_container(render(load_variant(VARIANTS_DIR / "cpu-no-limit.yaml")))["resources"]["limits"]
    rps = load_variant(VARIANTS_DIR / "hpa-rps-metric.yaml")
    metrics = find(render(rps), "HorizontalPodAutoscaler", "web")["spec"]["metrics"]
    assert [m["type"] for m in metrics] == ["Pods"]
    assert metrics[0]["pods"]["target"] == {"type": "AverageValue", "averageValue": "60000m"}
    assert RPS_METRIC in rps.controller.custom_metrics  # the adapter query the local HPA answers
    static = render(load_variant(VARIANTS_DIR / "static-max.yaml"))
    assert find(static, "HorizontalPodAutoscaler", "web") is None
    assert find(static, "Deployment", "web")["spec"]["replicas"] == 4
    probe = web_container(render(resolve_variant(None, ["web.readiness={period_s: 5, initial_delay_s: 3}"])))
    assert (probe["readinessProbe"]["periodSeconds"], probe["readinessProbe"]["initialDelaySeconds"]) == (5, 3)
    with pytest.raises(SpecError, match="without any metric"):
        resolve_variant(None, ["hpa.cpu_metric=false"])


def test_keepalive_and_netem_annotations() -> None:
    objects = render(load_variant(VARIANTS_DIR / "keepalive-off.yaml"))
    assert find(objects, "Service", "web")["metadata"]["annotations"][KEEPALIVE_ANNOTATION] == "false"
    assert client_keepalive(objects) is False and client_keepalive(render()) is True
    db = impairments(render(load_variant(VARIANTS_DIR / "db-latency-5ms.yaml")))
    assert db == [Impairment(service="postgres", delay_ms=5.0, jitter_ms=1.0)]
    assert db[0].qdisc_args() == ["netem", "delay", "5ms", "1ms", "distribution", "normal"]
    assert Impairment("web", loss_pct=1.5, rate_mbit=10).qdisc_args() == ["netem", "loss", "1.5%", "rate", "10mbit"]
    assert Impairment("web", rate_mbit=10).qdisc_args()[:3] == ["tbf", "rate", "10mbit"]
    with pytest.raises(SpecError, match="jitter_ms needs a delay_ms"):
        resolve_variant(None, ["networking.netem.web_db={jitter_ms: 2}"])


def test_netem_admission_falls_back_to_the_delay_relay_and_refuses_what_it_cannot_do() -> None:
    objects = render(load_variant(VARIANTS_DIR / "cache-latency-2ms.yaml"))
    assert netem_admission(render(), root=False) == []
    # delay/jitter without netem (not root, or no sch_netem): the userspace delay relay, admitted
    assert netem_admission(objects, root=False) == []
    no_netem = lambda args: "Specified qdisc kind is unknown." if args[0] == "netem" else None  # noqa: E731
    assert netem_admission(objects, root=True, probe=no_netem) == []
    plans, _ = plan_links(objects, root=True, probe=no_netem)
    assert plans["redis"].mechanism == "userspace-relay" and plans["redis"].relay_delay_ms == 2.0
    assert plans["redis"].qdisc == () and plans["redis"].reason == "kernel has no sch_netem"
    assert plan_links(objects, root=True, probe=lambda args: None)[0]["redis"].mechanism == "netem"
    # loss cannot be delayed into existence: refused naming the field and the reason
    lossy = render(resolve_variant(None, ["networking.netem.web_db={delay_ms: 5, loss_pct: 1}"]))
    issues = netem_admission(lossy, root=True, probe=no_netem)
    assert len(issues) == 1 and "Service/postgres" in issues[0].path
    assert "networking.netem.web_db.loss_pct" in issues[0].message and "kernel has no sch_netem" in issues[0].message
    assert "networking.netem.web_db.loss_pct" in netem_admission(lossy, root=False)[0].message
    # a rate still goes through tbf in a namespace (root), with the delay in the relay in front
    rated = render(resolve_variant(None, ["networking.netem.web_db={delay_ms: 5, rate_mbit: 100}"]))
    plan = plan_links(rated, root=True, probe=no_netem)[0]["postgres"]
    assert plan.mechanism == "userspace-relay" and plan.qdisc[:3] == ("tbf", "rate", "100mbit")
    unrated = netem_admission(rated, root=False)
    assert len(unrated) == 1 and "rate_mbit: a bandwidth limit needs root" in unrated[0].message
    no_tbf = netem_admission(rated, root=True, probe=lambda args: "Specified qdisc kind is unknown.")
    assert len(no_tbf) == 1 and "sch_tbf" in no_tbf[0].message
    # links events will delay get a relay at 0 ms; a netem link keeps its qdisc and gets one in front
    events_only = plan_links(render(), event_services=["postgres"], root=False)[0]
    assert events_only["postgres"].mechanism == "none" and events_only["postgres"].relay_delay_ms == 0.0
    both = plan_links(objects, event_services=["redis"], root=True, probe=lambda args: None)[0]["redis"]
    assert both.mechanism == "netem" and both.qdisc[0] == "netem" and both.relay_delay_ms == 0.0
    entry = both.manifest_entry()
    assert entry["tier"] == "web_cache" and entry["delay_relay"] and entry["delay_ms"] == 2.0


def test_client_web_delay_goes_through_the_relay_and_its_loss_and_rate_are_refused() -> None:
    client = render(resolve_variant(None, ["networking.netem.client_web={delay_ms: 3, jitter_ms: 1}"]))
    no_netem = lambda args: "Specified qdisc kind is unknown." if args[0] == "netem" else None  # noqa: E731
    # delay/jitter: the delay relay in front of HAProxy's web frontend, with netem, without, or not root
    for root, probe in ((True, lambda args: None), (True, no_netem), (False, None)):
        assert netem_admission(client, root=root, probe=probe) == []
        plan = plan_links(client, root=root, probe=probe)[0]["web"]
        assert plan.mechanism == "userspace-relay" and plan.qdisc == () and plan.relay_delay_ms == 3.0
        assert plan.relay_jitter_ms == 1.0 and "client→web" in plan.reason
        entry = plan.manifest_entry()
        assert entry["tier"] == "client_web" and entry["delay_relay"] and entry["delay_ms"] == 3.0
    # loss and rate: refused, naming the field and the reason, even as root with netem
    for knob, field in (("loss_pct: 1", "loss_pct"), ("rate_mbit: 100", "rate_mbit")):
        objects = render(resolve_variant(None, [f"networking.netem.client_web={{delay_ms: 3, {knob}}}"]))
        for root in (True, False):
            issues = netem_admission(objects, root=root, probe=lambda args: None)
            assert len(issues) == 1 and "Service/web" in issues[0].path, issues
            assert f"networking.netem.client_web.{field}" in issues[0].message
            assert "outside any network namespace" in issues[0].message
    both = render(resolve_variant(None, ["networking.netem.client_web={delay_ms: 3, loss_pct: 1, rate_mbit: 5}"]))
    assert len(netem_admission(both, root=True, probe=lambda args: None)) == 2
    # alongside a web→db link: each planned on its own
    mixed = render(
        resolve_variant(None, ["networking.netem.client_web={delay_ms: 3}", "networking.netem.web_db={delay_ms: 5}"])
    )
    plans = plan_links(mixed, root=False)[0]
    assert sorted(plans) == ["postgres", "web"] and plans["postgres"].relay_delay_ms == 5.0


def test_db_latency_renders_and_is_admitted_by_the_local_target_without_netem(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpabench.deploy.local import netem
    from hpabench.deploy.local.target import LocalTarget
    from hpabench.target import TargetOptions

    objects = render(load_variant(VARIANTS_DIR / "db-latency-5ms.yaml"))
    monkeypatch.setattr(netem, "cached_probe", lambda args: "Specified qdisc kind is unknown.")
    assert LocalTarget(TargetOptions()).admit(objects) == []


def test_cli_variants_and_diff(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in CATALOGUE)
    assert main(["diff-variants", "baseline", "hpa-target-80"]) == 0
    diff = capsys.readouterr().out
    assert "-        averageUtilization: 60" in diff and "+        averageUtilization: 80" in diff
    assert main(["diff-variants", "baseline", "baseline"]) == 0
    assert "render the same" in capsys.readouterr().out
    assert main(["diff-variants", "baseline", "no-such"]) == 2


def test_cli_render_set_changes_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--set", "hpa.max_replicas=9"]) == 0
    assert "maxReplicas: 9" in capsys.readouterr().out
    assert main(["render", "--set", "hpa.max_replicas=abc"]) == 2
    assert "hpa.max_replicas" in capsys.readouterr().err


def test_render_helm_values_prints_the_resolved_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    """`hpabench render --variant V --helm-values`: extends merged, --set applied, derived added."""
    variant = str(VARIANTS_DIR / "cpu-request-double-iso.yaml")
    args = ["render", "--variant", variant, "--helm-values", "--set", "hpa.max_replicas=5", "--image", "x/refapp:2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "# extends: cpu-request-double-iso <- cpu-request-double" in out
    values = yaml.safe_load(out)
    assert values["web"]["resources"] == {"requests": {"cpu": "400m"}, "limits": {"cpu": "800m"}}
    assert values["hpa"] == {"max_replicas": 5, "scale_point": "iso"}
    assert values["derived"] == {
        "scale_point_mode": "iso",
        "scale_point_millicores": "120",
        "cpu_target_utilization": 30,
        "for_cpu_request": "400m",
    }
    assert values["image"] == "x/refapp:2"
    assert "extends" not in values and "overrides" not in values


def test_render_helm_values_refuses_patches(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["render", "--variant", str(VARIANTS_DIR.parent / "k8s/examples/postgres-emptydir.yaml"), "--helm-values"])
        == 2
    )
    assert "cannot be expressed in the chart" in capsys.readouterr().err
