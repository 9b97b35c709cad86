"""The drive stage: Locust headless in its own processes, driving a compiled `Plan` at a deployment.

Parent side: `driver` (start, supervise, stop, merge), `progress` (the live line), `results` (jsonl →
parquet), `safety` (where load may go), `locustcheck` / `own_shape` (a user's locustfile and its
LoadTestShape). Locust side: `locustfiles/` (what `locust -f` loads, by path), `locust_users`,
`locust_recorder`, `locust_messages`, `locust_runtime`, with the pure `mix`, `pacing` and `recording`.
The scenario model, the shapes and the plan stay one level up, in `hpabench.scenarios`.
"""
