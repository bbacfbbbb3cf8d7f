# Two commands for a fresh machine: `make demo` and `make test`.
# The venv is created when missing and reinstalled only when pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Dagster's opt-in event batching: a range run's per-hour materializations reach the event log
# as batches, which dagster.yaml's storage writes in one transaction (`serve` sets it too).
export DAGSTER_EVENT_BATCH_SIZE ?= 1000

.PHONY: install browser demo test lint bench dev serve screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The report tests open reports in Debian's chromium (headless). Installed once, as root with
# apt-get; elsewhere the tests say how to install it (and fail under CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is missing: install it (Debian: apt-get install chromium)"; fi; }

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/monitoring-pipelines demo

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev

# Production: webserver + daemon on PostgreSQL (README "Run it in production"). A missing
# $(DAGSTER_HOME)/dagster.yaml starts as deploy/dagster.postgres.yaml; an existing one is kept.
serve: install
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || \
		{ mkdir -p "$(DAGSTER_HOME)" && cp deploy/dagster.postgres.yaml "$(DAGSTER_HOME)/dagster.yaml"; }
	exec $(BIN)/monitoring-pipelines serve --workspace workspace.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m benchmarks.run

# The README's pictures: a demo ending at the current hour in a temporary DAGSTER_HOME,
# dagster-webserver over it, headless chromium through the pages; PNGs into docs/images.
screenshots: install browser
	$(BIN)/python -m tools.screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
