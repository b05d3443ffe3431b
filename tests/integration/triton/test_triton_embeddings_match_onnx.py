"""Embeddings through the real Triton server equal in-process ONNX Runtime ones
(and therefore sentence-transformers')."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlmesh.embedding import EmbeddingUnavailable, OnnxEmbedder, TritonEmbedder
from mlmesh.testing.triton import TritonServer, built_models_dir

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "minilm_reference.json"


def test_triton_equals_direct_onnx_runtime(triton_server: TritonServer) -> None:
    ref = json.loads(FIXTURE.read_text())
    texts: list[str] = ref["sentences"] * 5  # 80 texts: two requests of <= 64
    client = TritonEmbedder(triton_server.grpc_url, timeout_s=60)
    try:
        got = client.embed(texts)
    finally:
        client.close()
    direct = OnnxEmbedder(built_models_dir() / "minilm").embed(texts)
    assert got.shape == (80, 384) and got.dtype == np.float32
    assert np.abs(got - direct).max() < 1e-5
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    assert ((got[:16] * want).sum(axis=1)).min() >= 0.9999


def test_unknown_model_is_reported_unavailable(triton_server: TritonServer) -> None:
    client = TritonEmbedder(triton_server.grpc_url, model="no_such_model", timeout_s=5)
    try:
        client.embed(["x"])
    except EmbeddingUnavailable as exc:
        assert "no_such_model" in str(exc)
    else:
        raise AssertionError("expected EmbeddingUnavailable")
    finally:
        client.close()
