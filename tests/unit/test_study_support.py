"""Pieces the study relies on: the HPA sync grid placed at a seeded phase of the load start,
the tier relays' config, and the study spec's controller settings."""

from __future__ import annotations

from typing import Any

import pytest

from hpabench.deploy.hpa.controller import HpaController
from hpabench.deploy.hpa.controller_settings import HpaSettings
from hpabench.deploy.local.env import ServiceLink, service_link_env
from hpabench.deploy.local.tierlinks import relay_config
from hpabench.study.spec import StudySpec
from tests.unit.test_hpa_controller import START, hpa_manifest, world  # noqa: F401 (fixture)


def test_align_sync_places_the_grid_at_the_phase(world: Any) -> None:  # noqa: F811
    controller = HpaController(
        hpa_manifest(), world.cluster, HpaSettings(), world.events, world.data, clock=world.clock
    )
    controller.start(thread=False)
    world.clock.now = START + 4.0
    syncs: list[float] = []
    real_sync = controller.sync
    controller.sync = lambda now: (syncs.append(now), real_sync(now))[1]  # type: ignore[method-assign]
    anchor = START + 5.0  # the load starts in a second
    assert controller.align_sync(anchor, 6.0) == anchor + 6.0
    world.run_until(controller, START + 50)
    assert syncs == [anchor + 6.0, anchor + 21.0, anchor + 36.0]  # then every sync period
    (event,) = world.kinds("hpa_phase")
    assert event["phase_s"] == 6.0 and event["next_sync_ts"] == anchor + 6.0
    # a phase beyond one period wraps; an anchor in the past moves to the next grid point
    world.clock.now = START + 100.0
    assert controller.align_sync(START + 90.0, 17.0) == START + 92.0 + 15.0
    controller.stop()


def test_relay_config_binds_only_the_given_address() -> None:
    text = relay_config("10.254.1.2:4000", "10.254.1.1:4001")
    assert "bind 10.254.1.2:4000" in text and "server upstream 10.254.1.1:4001" in text
    assert "mode tcp" in text and "*:" not in text and "0.0.0.0" not in text


def test_service_link_host_overrides_loopback() -> None:
    env = service_link_env([ServiceLink("postgres", 5000, host="10.254.1.2"), ServiceLink("redis", 6000)])
    assert env["POSTGRES_SERVICE_HOST"] == "10.254.1.2" and env["REDIS_SERVICE_HOST"] == "127.0.0.1"


def test_study_controller_settings_are_checked() -> None:
    base = {"name": "s", "scenarios": ["spike"], "variants": ["a"]}
    assert StudySpec.model_validate({**base, "controller": {"sync_period_s": 3}}).controller == {"sync_period_s": 3}
    with pytest.raises(Exception, match="unknown controller settings bogus"):
        StudySpec.model_validate({**base, "controller": {"bogus": 1}})
    with pytest.raises(Exception, match="sync_period_s"):
        StudySpec.model_validate({**base, "controller": {"sync_period_s": 0}})
