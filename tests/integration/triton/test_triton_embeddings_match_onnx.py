"""Embeddings through the real Triton server equal in-process ONNX Runtime ones:
version 1 the fp32 graph (and therefore sentence-transformers'), version 2 (the
default) the INT8 copy, served in batches of 32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlmesh.embedding import EmbeddingUnavailable, OnnxEmbedder, TritonEmbedder
from mlmesh.embedding.client import FP32_VERSION, INT8_VERSION
from mlmesh.testing.triton import TritonServer, built_models_dir, stats_counted

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "minilm_reference.json"


def test_triton_equals_direct_onnx_runtime(triton_server: TritonServer) -> None:
    ref = json.loads(FIXTURE.read_text())
    texts: list[str] = ref["sentences"] * 5  # 80 texts: two requests of <= 64
    client = TritonEmbedder(triton_server.grpc_url, version=FP32_VERSION, timeout_s=60)
    try:
        got = client.embed(texts)
    finally:
        client.close()
    direct = OnnxEmbedder(built_models_dir() / "minilm").embed(texts)
    assert got.shape == (80, 384) and got.dtype == np.float32
    assert np.abs(got - direct).max() < 1e-5
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    assert ((got[:16] * want).sum(axis=1)).min() >= 0.9999


def test_int8_version_is_served_in_batches_of_32(triton_server: TritonServer) -> None:
    texts = [f"support ticket {i}: the parcel was late and the refund did not arrive"
             for i in range(96)]
    default = TritonEmbedder(triton_server.grpc_url, timeout_s=60)  # no version: the latest
    int8 = TritonEmbedder(triton_server.grpc_url, version=INT8_VERSION, timeout_s=60)
    try:
        before = int8.statistics()["model_stats"][0]
        got = np.concatenate([int8.embed(texts[i:i + 32]) for i in range(0, 96, 32)])
        want = int(before.get("inference_count", 0)) + 96
        after = stats_counted(int8, want)[0]  # the client names version 2: one entry
        assert np.array_equal(default.embed(texts[:32]), got[:32])  # 2 is the default
    finally:
        default.close()
        int8.close()
    assert int(after["inference_count"]) >= want
    batches = {int(b["batch_size"]): int(b["compute_infer"]["count"])
               for b in after.get("batch_stats", [])}
    assert batches.get(32, 0) >= 3, batches
    models = built_models_dir() / "minilm"
    direct = OnnxEmbedder(models, graph="model_int8.onnx").embed(texts)
    assert np.abs(got - direct).max() < 1e-4
    fp32 = OnnxEmbedder(models).embed(texts)
    cos = (got * fp32).sum(axis=1)
    assert cos.min() >= 0.99 and cos.max() < 0.99999  # the INT8 graph, close to fp32


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
