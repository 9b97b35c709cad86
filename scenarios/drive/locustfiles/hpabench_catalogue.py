"""Locustfile for catalogue/YAML scenarios: hpabench's users, the scenario shape, the recorder.

Started by the hpabench driver (`hpabench.scenarios.drive.driver`), which sets the environment this
needs; it is a thin entry point so that Locust's loader and the package share one module state.
"""

from hpabench.scenarios.drive.locust_recorder import install
from hpabench.scenarios.drive.locust_users import HpabenchUser, ScenarioShape

install()

__all__ = ["HpabenchUser", "ScenarioShape"]
