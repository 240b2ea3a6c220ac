# The two set-up commands of the README are `make demo` and `make test`; each installs what it needs.
SHELL := /bin/bash
# uv from PATH, else the copy scripts/setup.sh installs into .tools/
UV_BIN := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
UV := $(UV_BIN) run --frozen

.PHONY: demo test lint unit replay bench soak setup

setup:
	@scripts/setup.sh

demo: setup ## run the embedded default: the simulator, alerts live in the terminal
	@$(UV) alvhd demo

lint: ## ruff, mypy (strict on daemon/), import contracts
	$(UV) ruff check .
	$(UV) ruff format --check .
	$(UV) mypy
	$(UV) lint-imports

# The fault scenarios (tests/e2e/test_fault_*.py) mostly sleep (a 5-minute broker outage, a
# 100-second gateway outage): pytest-xdist runs the files side by side (one file per worker,
# so a file's processes and brokers stay together).
PYTEST_WORKERS ?= 4

test: ## everything CI runs: mosquitto + env, lint, then the whole test suite (in parallel)
	@scripts/setup.sh --broker
	$(MAKE) --no-print-directory lint
	$(UV) pytest -q -p no:randomly -n $(PYTEST_WORKERS) --dist loadfile --durations=10

replay: setup ## replay the whole real history in ../shared/data/market
	$(UV) alvhd replay ../shared/data/market

bench: setup ## engine figures on the replay, then start-up, replay and daemon wall times (issue 9)
	$(UV) python bench/engine_bench.py
	$(UV) python bench/e2e_bench.py
	$(UV) python bench/burst_bench.py
	$(UV) python bench/live_bench.py

soak: setup ## the simulator at full speed: 10 seeds x 10,000 sessions, 0 crashes, flat RSS (~5 min)
	$(UV) python bench/soak.py --seeds 10 --sessions 10000
