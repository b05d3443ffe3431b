# Inference service (owner: inference helper): online scoring, rollouts, training.
INF_PY ?= .venv/bin/python
INF_ENV := PYTHONPATH=lib:gen/python:services:.

.PHONY: test-inference test-inference-integration bench-inference train-inference

# Unit: router (canary share), caches, rate limiter, API-key interceptor,
# alert rules, contract vs catalog, point-in-time leakage (real Feast, temp repo).
test-inference:
	$(INF_ENV) $(INF_PY) -m pytest -q tests/unit/inference

# Integration: real Triton, Milvus, Kafka, Feast; the embedder via Kafka.
test-inference-integration:
	$(INF_ENV) $(INF_PY) -m pytest -q tests/integration/inference

bench-inference:
	$(INF_ENV) $(INF_PY) -m bench.inference

# Self-contained training on a generated workload (publishes a new risk_scorer version).
train-inference:
	$(INF_ENV) .venv/bin/mlmesh train --workload 400
