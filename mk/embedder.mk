# Embedder service (owner: embedder helper). Needs `make models` (the tokenizer
# and the ONNX graph Triton serves) and the three venvs.
EMB_PY ?= .venv/bin/python

.PHONY: test-embedder test-embedder-unit test-embedder-integration bench-embedder lint-embedder

test-embedder-unit: ## embedder unit tests (PII rules, chunking, batcher, validation)
	$(EMB_PY) -m pytest -q tests/unit/embedder

test-embedder-integration: models ## embedder with real Kafka, Triton and Milvus
	$(EMB_PY) -m pytest -q tests/integration/embedder

test-embedder: test-embedder-unit test-embedder-integration

lint-embedder:
	.venv/bin/ruff check services/embedder tests/unit/embedder tests/integration/embedder bench/embedder.py
	.venv/bin/mypy services/embedder

bench-embedder: models ## direct ONNX vs Kafka->Triton->Milvus, latency, 100k search -> bench/results/embedder.json
	$(EMB_PY) bench/embedder.py
