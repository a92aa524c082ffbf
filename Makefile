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

# Two test workers (pytest-xdist); the tests that start a Ray simulation share one xdist
# group and those that start a local deployment another (tests/conftest.py): at most one
# of each at a time, and the two kinds may run side by side.
test: $(STAMP) lint browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup

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

# torch first, so the CPU build is the one installed; constraints.txt keeps it.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs .flwr .pytest_cache .mypy_cache .ruff_cache
