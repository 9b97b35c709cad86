"""Locust's stages example, shortened: a shape longer than the scenario + the driver's grace."""

from locust import HttpUser, LoadTestShape, constant, task


class Browse(HttpUser):
    wait_time = constant(0.5)

    @task
    def items(self):
        self.client.get("/healthz", name="/healthz")


class StagesShape(LoadTestShape):
    stages = (
        {"duration": 10, "users": 3, "spawn_rate": 10},
        {"duration": 20, "users": 6, "spawn_rate": 10},
        {"duration": 26, "users": 2, "spawn_rate": 10},
    )

    def tick(self):
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage["duration"]:
                return stage["users"], stage["spawn_rate"]
        return None
