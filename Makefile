# Set-up and entry points. Both targets work on a fresh Debian/Ubuntu machine with only
# Python 3.11+: they install uv if it is missing, then everything else through uv.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
export LITELLM_LOCAL_MODEL_COST_MAP := True
# Cache compiled bytecode even where the environment turns it off: litellm alone takes seconds
# to compile on every import otherwise, in every test process and sandbox.
unexport PYTHONDONTWRITEBYTECODE
UV ?= uv
PG_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/agent_platform
REDIS_URL ?= redis://127.0.0.1:6379/0

# The Dagster instance `agent-platform gate` writes its runs to (its --dagster-home default).
DAGSTER_HOME_DIR := $(abspath $(or $(DAGSTER_HOME),$(CURDIR)/.data/dagster_home))
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000

.PHONY: gate gate-services test bootstrap services bench ui ui-services

bootstrap:
	@command -v $(UV) >/dev/null 2>&1 || scripts/install_uv.sh
	@$(UV) sync --frozen --all-extras --quiet

services:
	@scripts/ensure_services.sh

## The main job, on the embedded defaults (SQLite, in-process cache, the provider simulator).
gate: bootstrap
	@$(UV) run --frozen agent-platform gate

## The evidence job against the real PostgreSQL and Redis at full size (CI runs it after the
## tests): the reduced sizes are too small for the rates' claims (a 99 % rate needs n >= 381
## even with no failure), so only a full run can pass the gate.
gate-services: bootstrap services
	@AGENT_PLATFORM_DATABASE_URL=$(PG_URL) AGENT_PLATFORM_REDIS_URL=$(REDIS_URL) \
		$(UV) run --frozen agent-platform gate

## The Dagster UI and daemon on the instance the gate writes: its runs, their plots, and the
## schedule and budget sensor, which can be switched on from the UI (the daemon runs them).
ui: bootstrap
	@mkdir -p "$(DAGSTER_HOME_DIR)"
	@echo "Dagster UI on http://$(UI_HOST):$(UI_PORT) (instance $(DAGSTER_HOME_DIR))"
	@DAGSTER_HOME="$(DAGSTER_HOME_DIR)" $(UV) run --frozen dagster dev -w workspace.yaml \
		-h $(UI_HOST) -p $(UI_PORT)

## The same against PostgreSQL and Redis (the schedule's runs at reduced size, quick to watch).
ui-services: bootstrap services
	@mkdir -p "$(DAGSTER_HOME_DIR)"
	@echo "Dagster UI on http://$(UI_HOST):$(UI_PORT) (instance $(DAGSTER_HOME_DIR), PostgreSQL + Redis)"
	@DAGSTER_HOME="$(DAGSTER_HOME_DIR)" AGENT_PLATFORM_DATABASE_URL=$(PG_URL) \
		AGENT_PLATFORM_REDIS_URL=$(REDIS_URL) AGENT_PLATFORM_EVIDENCE_SCALE=reduced \
		$(UV) run --frozen dagster dev -w workspace.yaml -h $(UI_HOST) -p $(UI_PORT)

## Everything CI runs: services, migrations, ruff, mypy, pytest.
test: bootstrap services
	@AGENT_PLATFORM_DATABASE_URL=$(PG_URL) $(UV) run --frozen agent-platform migrate
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy
	@$(UV) run --frozen pytest -q -p no:cacheprovider

bench: bootstrap services
	@set -e; for b in state_fabric router graph notifications packages; do \
		$(UV) run --frozen python -m bench.$$b; done

## Agent runs on Dagster (issue 14): UI + daemon on the embedded instance (SQLite storage under
## $(AGENT_HOME)), or on PostgreSQL storage (DAGSTER_PG_URL). The queue limits come from
## configs/agent_runs.yaml; submit tasks with `agent-platform submit TASK.yaml ...`.
AGENT_HOME ?= .data/dagster_home
DAGSTER_PG_URL ?= postgresql+psycopg2://postgres:postgres@127.0.0.1:5432/dagster

.PHONY: agent-ui agent-daemon agent-ui-postgres agent-daemon-postgres bench-scale

agent-ui: bootstrap
	@$(UV) run --frozen python -m jobs.agent_instance --home $(AGENT_HOME)
	@DAGSTER_HOME=$(abspath $(AGENT_HOME)) $(UV) run --frozen dagster dev -w workspace.yaml

agent-daemon: bootstrap
	@$(UV) run --frozen python -m jobs.agent_instance --home $(AGENT_HOME)
	@DAGSTER_HOME=$(abspath $(AGENT_HOME)) $(UV) run --frozen dagster-daemon run -w workspace.yaml

agent-ui-postgres: bootstrap services
	@DAGSTER_PG_URL=$(DAGSTER_PG_URL) $(UV) run --frozen python -m jobs.agent_instance --home $(AGENT_HOME)_pg --postgres --create-database
	@DAGSTER_HOME=$(abspath $(AGENT_HOME))_pg DAGSTER_PG_URL=$(DAGSTER_PG_URL) \
		AGENT_PLATFORM_DATABASE_URL=$(PG_URL) $(UV) run --frozen dagster dev -w workspace.yaml

agent-daemon-postgres: bootstrap services
	@DAGSTER_PG_URL=$(DAGSTER_PG_URL) $(UV) run --frozen python -m jobs.agent_instance --home $(AGENT_HOME)_pg --postgres --create-database
	@DAGSTER_HOME=$(abspath $(AGENT_HOME))_pg DAGSTER_PG_URL=$(DAGSTER_PG_URL) \
		AGENT_PLATFORM_DATABASE_URL=$(PG_URL) $(UV) run --frozen dagster-daemon run -w workspace.yaml

## The scale benchmark (minutes: 160 agent runs through the queue on PostgreSQL storage).
bench-scale: bootstrap services
	@$(UV) run --frozen python -m bench.scale
