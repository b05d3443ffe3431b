# Embedding model build, Triton model repository and local Triton/Milvus (owner: models helper).
# `make models` is idempotent: the manifest is the stamp, rebuilt when the build code changes.
MODELS_PY ?= .venv/bin/python
MODELS_STATE ?= .mlmesh
MODELS_OUT := $(MODELS_STATE)/models/minilm
MODELS_SRC := $(wildcard models/minilm/*.py) tests/fixtures/minilm_reference.json

.PHONY: models models-clean test-models test-models-integration bench-embedding models-gpu-transport triton-gpu-repo

models: $(MODELS_OUT)/manifest.json

$(MODELS_OUT)/manifest.json: $(MODELS_SRC)
	PYTHONPATH=.:lib $(MODELS_PY) -m models.minilm.build --out $(MODELS_OUT)

models-clean:
	rm -rf $(MODELS_OUT)

# Unit: graph vs numpy and vs sentence-transformers' reference vectors, tokenizer, repo files.
test-models: models
	PYTHONPATH=lib:gen/python:services:. $(MODELS_PY) -m pytest -q -m "not slow" tests/unit/models

# Integration: a real tritonserver (.venv-triton) and a real milvus-lite server.
test-models-integration: models
	PYTHONPATH=lib:gen/python:services:. $(MODELS_PY) -m pytest -q tests/integration/triton tests/integration/milvus

bench-embedding: models
	PYTHONPATH=lib:gen/python:services:. $(MODELS_PY) bench/embedding_direct.py --triton

# 45 MB fp16-weight copy of the model for carrying to a GPU machine (see bench/embedding_gpu.py).
models-gpu-transport: $(MODELS_STATE)/gpu/minilm_fp16w.onnx

$(MODELS_STATE)/gpu/minilm_fp16w.onnx: $(MODELS_OUT)/manifest.json bench/embedding_gpu.py
	$(MODELS_PY) bench/embedding_gpu.py --model $(MODELS_OUT)/model.onnx --make-transport $@

# Self-contained GPU model repository (onnxruntime backend + TensorRT FP16) for an NGC image.
triton-gpu-repo: models
	PYTHONPATH=lib $(MODELS_PY) -m mlmesh.localstack.triton assemble --gpu --out $(MODELS_STATE)/triton-gpu/model_repository
