# Two commands for a new user: `make run` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Offline and quiet (../shared/ENVIRONMENT.md): no hub downloads, no telemetry, no update checks.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export FLWR_TELEMETRY_ENABLED := 0
export FLWR_DISABLE_UPDATE_CHECK := 1
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION := 1
export RAY_USAGE_STATS_ENABLED := 0
export ORT_DISABLE_TELEMETRY := 1
export FLWR_HOME := $(CURDIR)/.flwr
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Python caches each module's bytecode on first import (the install compiles none, below).
# With PYTHONDONTWRITEBYTECODE set (some shells and containers set it), every process
# compiled every module it imported, torch and Flower included, every time: a Flower
# device process spent about a third of its CPU compiling, and the test suite half.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run flwr-run tour test lint browser install clean

# The main job: a DP federated simulation on the built-in synthetic population. The run
# folder is replaced each time (resuming a run is `fedpersona simulate --out` on its folder).
run: $(STAMP)
	rm -rf runs/simulation
	$(BIN)/fedpersona simulate --out runs/simulation

# The same apps through Flower's own CLI and local simulation SuperLink (defaults from
# [tool.flwr.app.config] in pyproject.toml; connection settings from flwr-config.toml).
flwr-run: $(STAMP)
	mkdir -p $(FLWR_HOME)
	cp flwr-config.toml $(FLWR_HOME)/config.toml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/flwr run . --stream --run-config "out='$(CURDIR)/runs/flwr'"

tour: $(STAMP)
	$(BIN)/fedpersona demo --out runs/store-tour

# Two workers, one per core: the suite is CPU-bound here (96% of both cores busy), and a
# third worker cost more CPU than it filled (docs/benchmarks.md). The Ray and deployment
# groups are in tests/conftest.py. The lint runs beside the suite (mypy without its cache
# is about a minute of one core); its output follows the suite's, and either failing fails
# the target.
test: $(STAMP) browser
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & linting=$$!; \
	$(BIN)/python -m pytest -n 2 --dist loadgroup; tested=$$?; \
	wait $$linting; linted=$$?; cat $(VENV)/lint.log; \
	if [ $$linted -ne 0 ]; then echo "make lint failed (above)"; fi; \
	[ $$tested -eq 0 ] && [ $$linted -eq 0 ]

# The dashboard's browser test drives Debian's Chromium (Playwright never downloads one):
# installed here when missing, so that a new user's first `make test` passes.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "make test needs Debian's chromium: apt-get install chromium (as root)"; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(STAMP)

# uv (pinned in constraints.txt) installs several times faster than pip; it reads none of
# pip's configuration, so .ci/pip_sources.py passes pip's indexes, find-links and constraint
# files on. constraints.txt pins torch==2.13.0, which here resolves to the CPU build on disk
# (../shared/ENVIRONMENT.md). No bytecode at install (pip compiles every module, the main
# part of its time): Python compiles and caches only what is imported, on first import.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python \
	  $$($(BIN)/python .ci/pip_sources.py) -c constraints.txt -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs .flwr .pytest_cache .mypy_cache .ruff_cache
