# Cadence: `make up` runs the pipeline locally, `make test` runs the whole suite. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export CADENCE_DATA_DIR ?= $(CURDIR)/.data

.PHONY: help system-deps install bq-emulator up down test test-fast test-stack lint manifest lock bench composer-bundle clean compose-env

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@echo "installing the locked requirements into $(VENV) (first time: a few minutes) …"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python requirements.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# The BigQuery emulator (crucible-emulator) and its dbt live in a virtualenv of their own: the emulator pins
# duckdb and sqlglot older than requirements.txt, and nothing in .venv is downgraded for it. Its lock is
# requirements-bigquery-emulator.txt; tests/dbt/test_bigquery_emulator.py runs it.
BQ_EMULATOR_VENV := .venv-bq-emulator
BQ_EMULATOR_STAMP := $(BQ_EMULATOR_VENV)/.installed

$(BQ_EMULATOR_STAMP): requirements-bigquery-emulator.txt | $(STAMP)
	@echo "installing the BigQuery emulator's lock into $(BQ_EMULATOR_VENV) …"
	@test -x $(BQ_EMULATOR_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(BQ_EMULATOR_VENV)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BQ_EMULATOR_VENV)/bin/python requirements-bigquery-emulator.txt
	@touch $(BQ_EMULATOR_STAMP)

SYSTEM_PACKAGES := pkg-config libmariadb-dev chromium chromium-driver

system-deps:  ## install the Debian packages the suite needs (MySQL client headers, Chromium, npm if missing); needs root
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
	  command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The scripts and styles Great Expectations' Data Docs pages load from CDNs, installed from npm so that the
# Cadence plugin serves them (cadence.docs.DATA_DOCS_ASSETS): the pages render offline.
DATA_DOCS_ASSETS := assets/data-docs/node_modules/.installed

$(DATA_DOCS_ASSETS): assets/data-docs/package-lock.json
	@echo "installing the Data Docs pages' scripts and styles (npm ci in assets/data-docs) …"
	cd assets/data-docs && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(DATA_DOCS_ASSETS)

install: $(STAMP) $(BQ_EMULATOR_STAMP) $(DATA_DOCS_ASSETS)  ## create .venv, .venv-bq-emulator and the Data Docs assets from the locks (skipped when up to date)

bq-emulator: $(BQ_EMULATOR_STAMP)  ## create .venv-bq-emulator only (the BigQuery emulator and its dbt)

up: install  ## run Airflow locally on http://localhost:8080 (CADENCE_UI_PORT, CADENCE_UI_HOST) with live data
	@$(BIN)/python -m cadence.local up

down:  ## stop the local Airflow and the simulator
	@$(BIN)/python -m cadence.local down

# Tiers (tests/<tier>/, marker of the same name): unit, dbt, dags, stack, static. Workers of pytest-xdist
# each get their own Airflow home; each module stays on one worker (its module fixtures are built once);
# the modules that run a real scheduler are in two lanes (marker `scheduler(lane=N)`), each lane one xdist
# group, so at most two stacks run at once; modules start longest first (tests/conftest.py, kept by
# --no-loadscope-reorder). One worker more than cores: the stack tests spend much of their time waiting on
# a scheduler, and the extra worker keeps the cores busy meanwhile.
XDIST := -n $(shell echo $$(( $$(nproc) + 1 ))) --dist loadgroup --no-loadscope-reorder

test: install  ## run the whole test suite, in parallel
	$(BIN)/python -m pytest $(XDIST) --durations=20

test-fast: install  ## the inner loop: unit tests and dbt's own unit tests (≤ 60 s)
	$(BIN)/python -m pytest $(XDIST) tests/unit tests/dbt/test_dbt_unit_tests.py

test-stack: install  ## run only the real-stack tier (Celery topology, Postgres/MariaDB sources, ...)
	$(BIN)/python -m pytest -m stack

composer-bundle: install  ## lay out what Cloud Composer gets in build/composer (see README: Cloud Composer)
	$(BIN)/python -m cadence.composer_bundle build/composer

lint: install  ## ruff check, ruff format check, sqlfluff (dbt templater, config: .sqlfluff) over the dbt project
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	DBT_DUCKDB_PATH=$$(mktemp -d)/lint.duckdb $(BIN)/sqlfluff lint dbt --processes 1

manifest: install  ## rebuild dbt/manifest/manifest.json, which Cosmos renders the DAGs from
	$(BIN)/python -m cadence.dbt_manifest --write

lock:  ## re-resolve requirements.txt and requirements-bigquery-emulator.txt from their .in files (needs uv)
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements.in -o requirements.txt
	@# the emulator's lock follows the main one wherever the emulator's own pins allow
	grep -vE '^(duckdb|sqlglot)==' requirements.txt | $(BIN)/uv pip compile --quiet --python-version 3.11 \
	  --custom-compile-command "make lock" -c - requirements-bigquery-emulator.in -o requirements-bigquery-emulator.txt

bench: install  ## print the benchmark table (not a test)
	$(BIN)/python bench/run.py

COMPOSE_ENV_FILE ?= .env

compose-env:  ## write .env for docker compose: your uid, random secrets and admin password (kept if present)
	@if [ -e "$(COMPOSE_ENV_FILE)" ]; then echo "$(COMPOSE_ENV_FILE) exists: kept as it is"; else \
	  { echo "AIRFLOW_UID=$$(id -u)"; \
	    for name in AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY _AIRFLOW_WWW_USER_PASSWORD; do \
	      echo "$$name=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(24))')"; done; \
	  } > "$(COMPOSE_ENV_FILE)" && chmod 600 "$(COMPOSE_ENV_FILE)" && \
	  echo "wrote $(COMPOSE_ENV_FILE); the UI password is _AIRFLOW_WWW_USER_PASSWORD in it"; fi

clean:  ## remove local state (Airflow home, lake, DuckDB, source DB); keeps the venvs
	rm -rf .airflow .data dbt/target
