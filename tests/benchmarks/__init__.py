"""Benchmarks of the suite's own speed and fidelity: one `bench_<area>.py` module per area.

Each module is runnable on its own (`.venv/bin/python -m tests.benchmarks.bench_local`) and exposes
`main(argv: list[str] | None = None) -> int`; `python -m tests.benchmarks` runs them all in turn.
"""
