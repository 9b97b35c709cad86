"""`hpabench gc` against the emulator, and the k8s command-line options."""

from __future__ import annotations

import asyncio

import pytest

from hpabench.cli import build_parser
from hpabench.deploy.k8s.api import KubeApi
from hpabench.deploy.k8s.cli import target_settings_from_args
from hpabench.deploy.k8s.gc import collect_garbage
from hpabench.errors import SpecError

from .conftest import Emulator, call, post_namespace, url_of

NOW = 1_800_000_000.0


async def _namespace(cluster: Emulator, name: str, labels: dict, created: float) -> None:
    await post_namespace(cluster, name, labels=labels, annotations={"hpabench.io/created-at": f"{created:.0f}"})


@pytest.mark.asyncio
async def test_gc_deletes_only_old_hpabench_namespaces_and_dry_run_deletes_nothing(cluster: Emulator) -> None:
    ours = {"app.kubernetes.io/managed-by": "hpabench"}
    await _namespace(cluster, "hpabench-old", ours, NOW - 7200)
    await _namespace(cluster, "hpabench-running", ours, NOW - 60)
    await _namespace(cluster, "someone-elses", {"app.kubernetes.io/managed-by": "helm"}, NOW - 99999)
    with KubeApi.for_host(url_of(cluster)) as api:
        dry = await asyncio.to_thread(collect_garbage, api, 3600, True, 5.0, None, NOW)
        assert [(n, a) for n, _, a in dry] == [("hpabench-old", "would delete"), ("hpabench-running", "kept (younger)")]
        assert (await call(cluster, "GET", "/api/v1/namespaces/hpabench-old"))["metadata"]["name"] == "hpabench-old"
        done = await asyncio.to_thread(collect_garbage, api, 3600, False, 5.0, None, NOW)
    assert ("hpabench-old", 7200.0, "deleted") in done
    assert (await call(cluster, "GET", "/api/v1/namespaces/hpabench-old")).get("code") == 404
    for kept in ("hpabench-running", "someone-elses"):
        assert (await call(cluster, "GET", f"/api/v1/namespaces/{kept}"))["metadata"]["name"] == kept


def test_k8s_options_become_target_settings_only_for_the_k8s_target() -> None:
    args = build_parser().parse_args(
        ["run", "--scenario", "spike", "--target", "k8s", "--context", "kind-hpabench", "--hpa-tolerance", "0.2"]
    )
    settings = target_settings_from_args(args)
    assert settings["context"] == "kind-hpabench"
    assert settings["hpa_flags"]["tolerance"] == 0.2 and "user-supplied" in settings["hpa_flags"]["source"]
    local = build_parser().parse_args(["run", "--scenario", "spike"])
    assert target_settings_from_args(local) == {}
    with pytest.raises(SpecError, match="need --target k8s"):
        target_settings_from_args(build_parser().parse_args(["run", "--scenario", "spike", "--context", "x"]))
