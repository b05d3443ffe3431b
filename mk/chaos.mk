# Chaos area (issue #8): fault injection, independent audit, fuzz, soak.
# `make chaos` (Makefile) runs every suite in tests/chaos (the full 100k run is
# also marked slow); the targets below are the quicker slices.
CHAOS_PYTEST ?= .venv/bin/python -m pytest

.PHONY: chaos-smoke chaos-fuzz chaos-audit chaos-cluster

chaos-smoke: ## chaos: the quick run (20k events / 1k docs) + bad input everywhere
	$(CHAOS_PYTEST) -m "chaos and not slow" tests/chaos $(PYTEST_ARGS)

chaos-cluster: setup ## chaos: the cluster profile (3 brokers, a Flink session cluster, 2 replicas), node faults, the audit (#29)
	$(CHAOS_PYTEST) -m chaos tests/chaos/test_chaos_cluster.py $(PYTEST_ARGS)

chaos-fuzz: ## chaos: the fast fuzz of ingest + topics (also part of `make test`)
	$(CHAOS_PYTEST) tests/integration/fuzz tests/unit/chaos $(PYTEST_ARGS)

chaos-audit: ## chaos: audit a running mesh (STATE=..., BOOTSTRAP=..., MILVUS=...)
	.venv/bin/python -m mlmesh.chaos.audit --state-dir $(STATE) \
	  --bootstrap $(or $(BOOTSTRAP),127.0.0.1:19092) --milvus-uri $(or $(MILVUS),http://127.0.0.1:19530)
