# make run · make test — each sets up .venv on a fresh machine (Python 3.11+) before it runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test bench

run: $(INSTALLED)
	$(BIN)/rr-bot

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: $(INSTALLED)
	$(BIN)/python -m bench.store
	$(BIN)/python -m bench.view
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.squadron
	$(BIN)/python -m bench.emulator
	$(BIN)/python -m bench.commands
	$(BIN)/python -m bench.agentapi
	$(BIN)/python -m bench.soak
	$(BIN)/python -m bench.miz
	$(BIN)/python -m bench.missions
	$(BIN)/python -m bench.failover
	$(BIN)/python -m bench.transfers

# The stamp is older than pyproject.toml when the dependencies changed: install again.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@
