# E-commerce operations warehouse. `make run` then `make test`; `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
UV_VERSION := 0.13.9

# The venv's executables first for every recipe and every process it starts: `dagster dev`, the
# code servers it spawns and dagster-dbt find the venv's `dagster` and `dbt` from a plain shell.
export PATH := $(CURDIR)/$(BIN):$(PATH)

# Settings (paths included) come from the environment, else .env, else their defaults: one
# place, orchestration/settings.py. `cli setting NAME` prints one for a recipe.
SETTING = $(BIN)/python -m orchestration.cli setting

SAMPLE_SCALE ?= 0.01
SAMPLE_SEED ?= 42
SAMPLE_DAYS ?= 365

.PHONY: help install check run sample pipeline prepare dashboards dashboards-build test test-slow lint ui docs clean lock validate-landing browser install-spark test-spark bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@echo "installing pinned dependencies into .venv (first run: about 2 minutes)…"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@$(BIN)/python -m pip install -qq "uv==$(UV_VERSION)"
	@$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# Bytecode compiled once per install: where no .pyc can be written at import time
# (PYTHONDONTWRITEBYTECODE=1, a read-only image) every process would compile its imports again:
# each pipeline run, `dbt build` and GX import.
PYC_STAMP := $(VENV)/.compiled
$(PYC_STAMP): $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	@touch $(PYC_STAMP)

install: $(STAMP) $(PYC_STAMP) ## create .venv with the pinned dependencies

# The optional Spark target (docs/scaling.md): the same pins plus dbt-spark and pyspark. Depends on
# $(STAMP) because `make install` (uv pip sync) removes what requirements.lock does not list.
$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements-spark.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(SPARK_STAMP)

install-spark: $(SPARK_STAMP) ## add dbt-spark + pyspark (~500 MB; needs Java 17+) to .venv

lock: ## re-pin the dependency tree after editing pyproject.toml
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --extra spark --python-version 3.11 \
		-c requirements.lock -o requirements-spark.lock

check: install ## validate every setting (env, .env, WAREHOUSE_CONFIG, DBT_VARS); exit 2 names a bad one
	@$(BIN)/python -m orchestration.cli check

prepare: install ## parse the dbt project once (manifest for Dagster)
	@$(BIN)/python -m orchestration.cli prepare

sample: check ## generate the embedded sample into LANDING_DIR
	@$(BIN)/python -m orchestration.sample --scale $(SAMPLE_SCALE) --seed $(SAMPLE_SEED) \
		--days $(SAMPLE_DAYS) --out "$$($(SETTING) LANDING_DIR)" --clean

# FROM= and TO= (YYYY-MM-DD) load a range of dt partitions: a backfill, or one day (FROM=TO).
pipeline: prepare ## run every asset and check over LANDING_DIR (FROM=, TO= for a range); exit 1 on any failure
	@$(BIN)/python -m orchestration.cli pipeline $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

validate-landing: check ## check LANDING_DIR against the contract (writes nothing; exit 2 = a file would be rejected)
	$(BIN)/python -m orchestration.validate_landing

# A short summary by default. `make run VERBOSE=1` (or VERBOSE=1 in the environment or .env):
# Dagster's event lines, dbt's output and every mart's rows, as `cli -v`; make hands a variable
# set on its command line to the environment of every recipe (pipeline, where).
run: install check sample pipeline dashboards-build ## install, generate the sample, build and publish the marts and dashboards (VERBOSE=1: full detail)
	@$(BIN)/python -m orchestration.cli where

# The dashboards (dashboards/, Evidence): a static site built from the published serving file into
# SERVING_DIR/dashboards/; `npm ci` only when dashboards/package-lock.json changed.
dashboards-build: check
	@SERVING_DIR="$$($(SETTING) SERVING_DIR)" dashboards/scripts/build.sh

dashboards: PORT = 3001
dashboards: dashboards-build ## build the dashboards from the published marts and serve them on :3001 (PORT= to change)
	@echo "Dashboards: http://$(HOST):$(PORT) (Ctrl-C to stop)"
	@$(BIN)/python -m http.server -b $(HOST) -d "$$($(SETTING) SERVING_DIR)/dashboards" $(PORT)

# The report's browser test drives the system Chromium (Debian/Ubuntu package; root or sudo).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser: ## install Chromium for the headless-browser tests (apt-get, once per machine; make test does it)
	@command -v chromium >/dev/null 2>&1 || { echo "installing Chromium (apt-get) for the browser tests…"; \
		$(SUDO) apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get \
		install -y -q --no-install-recommends chromium >/dev/null; }
	@chromium --version 2>/dev/null | head -1

# Two tiers (tests/conftest.py lists the slow tests): CI runs both, and test-spark. The fast tier
# runs on two pytest-xdist workers: one runs the sample pipeline and the tests that read it, the
# other the rest, a file at a time (tests/conftest.py groups them). The slow tier stays serial:
# its pipelines, servers and killed processes each want the machine to themselves.
test: prepare browser ## run the fast tests: every area, one pipeline run on a tiny sample
	$(BIN)/python -m pytest -m "not spark and not slow" -n 2 --dist loadgroup

test-slow: prepare browser ## run the slow tests: extra pipeline runs, crashes, incremental = full
	$(BIN)/python -m pytest -m "slow and not spark"

test-spark: prepare install-spark ## build the marts on local Spark and DuckDB, require equal marts
	$(BIN)/python -m pytest -m spark

lint: install ## ruff and sqlfluff
	$(BIN)/ruff check orchestration tests bench
	$(BIN)/ruff format --check orchestration tests bench
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros

# `make ui PORT=3001 HOST=0.0.0.0`. A HOST in the environment is ignored (some shells export the
# machine's name as HOST): only the command line sets it. PORT may come from the environment.
PORT ?= 3000
HOST := 127.0.0.1
ui: prepare ## open the Dagster UI on http://127.0.0.1:3000 (PORT=, HOST= to change)
	@echo "Dagster UI: http://$(HOST):$(PORT) (Ctrl-C to stop)"
	@url="$$($(SETTING) GX_DOCS_URL)"; docs="$$($(SETTING) GX_DOCS_DIR)"; \
		case "$$url" in http://127.0.0.1:*|http://localhost:*) mkdir -p "$$docs"; \
			echo "Data Docs:  $$url/index.html"; \
			$(BIN)/python -m http.server -b 127.0.0.1 -d "$$docs" "$${url##*:}" >/dev/null 2>&1 & \
		esac; trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
		DAGSTER_HOME="$$($(BIN)/python -m orchestration.cli dagster-home)" \
		DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true \
		$(BIN)/dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

docs: prepare ## build the dbt docs (every mart and column) and serve them on :8080
	cd dbt_project && WAREHOUSE_PATH="$$(../$(SETTING) WAREHOUSE_PATH)" ../$(BIN)/dbt docs generate \
		--profiles-dir . --project-dir . --quiet
	@echo "dbt docs: http://127.0.0.1:8080 (Ctrl-C to stop)"
	cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir . --project-dir . --port 8080 --no-browser

SCALE ?= 0.01
BENCH_ARGS ?=
bench: prepare ## benchmark one scale factor: make bench SCALE=0.1 (see docs/performance.md)
	$(BIN)/python -m bench.harness --scale $(SCALE) --seed $(SAMPLE_SEED) $(BENCH_ARGS)

clean: ## remove generated data and build output (keeps .venv)
	rm -rf data dbt_project/target dbt_project/logs logs
