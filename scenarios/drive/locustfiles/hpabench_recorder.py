"""Only the hpabench recorder (per-second client stats, generator CPU), for a user's locustfile."""

from hpabench.scenarios.drive.locust_recorder import install

install()
