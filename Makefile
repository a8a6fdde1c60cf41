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
	$(BIN)/pytest

bench: $(INSTALLED)
	$(BIN)/python -m eventstore.bench
	$(BIN)/python -m bot.bench_view
	$(BIN)/python -m bot.bench_squadron
	$(BIN)/python -m tests.emulator.benchmark
	$(BIN)/python -m bot.bench_discord
	$(BIN)/python -m bot.agentapi.bench
	$(BIN)/python -m bot.bench_soak
	$(BIN)/python -m tests.files.miz.benchmark

# The stamp is older than pyproject.toml when the dependencies changed: install again.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@
