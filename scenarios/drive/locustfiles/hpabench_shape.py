"""The scenario as a LoadTestShape, loaded *after* a user's own locustfile.

Locust uses the first shape it finds, so a user's own LoadTestShape wins; without one, this
shape drives the user's User classes through the scenario's planned user counts.
"""

from hpabench.scenarios.drive.locust_users import ScenarioShape

__all__ = ["ScenarioShape"]
