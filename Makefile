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

test: ## everything CI runs: mosquitto + env, lint, then the whole test suite
	@scripts/setup.sh --broker
	$(MAKE) --no-print-directory lint
	$(UV) pytest -q -p no:randomly

replay: setup ## replay the whole real history in ../shared/data/market
	$(UV) alvhd replay ../shared/data/market

bench: setup ## engine throughput and latency on the replay
	$(UV) python bench/engine_bench.py

soak: setup ## the simulator at full speed: 10 seeds x 10,000 sessions, 0 crashes, flat RSS (~5 min)
	$(UV) python bench/soak.py --seeds 10 --sessions 10000
