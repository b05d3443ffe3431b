"""The INT8 copy of the embedding graph (``make models`` -> ``model_int8.onnx``).

Two ONNX Runtime recipes, no calibration data, measured against each other and
fp32 (``../shared/field-notes.md``, ``bench/embedding_int8.py``):

* the attention projections (query, key, value, attention output): dynamic
  quantization, per-channel INT8 weights, activations quantized per call;
* the feed-forward layers (intermediate and output dense): 8-bit blockwise
  weights (``MatMulNBits``, blocks of 128, ``accuracy_level`` 4: INT8 compute
  with activations quantized per block). Dynamic per-tensor activations there
  (after GELU, with outliers) are what cost the all-dynamic recipe its quality
  (cosine 0.98, recall@10 0.92, though 2.0x fp32).

Attention's activation x activation products stay fp32.

``measure`` gives the quality figures the build checks and records: cosine to
the fp32 graph per text on a fixed document set (``quality.documents``) and on
the reference fixture's sentences, and recall@10 of INT8 neighbours against
fp32 neighbours on ``quality.retrieval_set``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from models.minilm import quality

log = logging.getLogger("mlmesh.models.minilm")

MIN_COSINE = 0.99  # every text of quality.documents(), cosine to fp32
MIN_RECALL_AT_10 = 0.95

Embed = Callable[[Sequence[str]], np.ndarray]


BLOCK_SIZE = 128


def feed_forward_matmuls(model: object) -> list[str]:
    """Names of the MatMul nodes of the feed-forward layers (by their weights)."""
    return [n.name for n in model.graph.node  # type: ignore[attr-defined]
            if n.op_type == "MatMul" and len(n.input) > 1 and (
                ".intermediate.dense." in n.input[1]
                or (".output.dense." in n.input[1] and ".attention." not in n.input[1]))]


def dynamic_int8(src: Path, out: Path, exclude: Sequence[str] = ()) -> None:
    """Dynamic quantization of every MatMul with a weight operand but ``exclude``:
    per-channel INT8 weights, activations quantized per call."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(out), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=list(exclude),
                     extra_options={"MatMulConstBOnly": True})


def blockwise_8bit(src: Path, out: Path) -> None:
    """8-bit blockwise weights (``MatMulNBits``) on every MatMul still in fp32."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(block_size=BLOCK_SIZE, is_symmetric=True,
                                          accuracy_level=4, bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(out))


def quantize(fp32: Path, out: Path) -> None:
    """Write the INT8 copy of ``fp32`` to ``out`` (recipe in the module doc)."""
    import onnx

    staged = out.with_name(f".{out.name}.dynamic.tmp")
    tmp = out.with_name(f".{out.name}.tmp")
    # the quantizers log every node at INFO and advise "pre-processing" (shape
    # inference adds nothing to a graph whose shapes are all declared)
    logging.disable(logging.WARNING)
    try:
        dynamic_int8(fp32, staged, exclude=feed_forward_matmuls(onnx.load(str(fp32))))
        blockwise_8bit(staged, tmp)
    finally:
        logging.disable(logging.NOTSET)
        staged.unlink(missing_ok=True)
    tmp.replace(out)


def measure(fp32: Embed, int8: Embed, fixture: Sequence[str] = (), corpus: int = 600,
            queries: int = 60) -> dict[str, float]:
    """Quality of ``int8`` against ``fp32`` (both embed a batch of texts); the
    build uses a smaller retrieval set than ``bench/embedding_int8.py``."""
    figures: dict[str, float] = {}
    docs = quality.documents()
    cos = quality.cosines(fp32(docs), int8(docs))
    figures["documents"] = len(docs)
    figures["min_cosine_documents"] = float(cos.min())
    figures["mean_cosine_documents"] = float(cos.mean())
    texts = [t for t in fixture if t.strip()]
    if texts:
        cos = quality.cosines(fp32(texts), int8(texts))
        figures["min_cosine_fixture_sentences"] = float(cos.min())
        figures["mean_cosine_fixture_sentences"] = float(cos.mean())
    docs, asks = quality.retrieval_set(corpus, queries)
    figures["retrieval_set"] = len(docs)
    figures["recall_at_10"] = quality.recall_at_k(fp32(docs), fp32(asks), int8(docs), int8(asks),
                                                  k=10)
    return figures


def check(figures: dict[str, float]) -> None:
    """Refuse a quantized graph below the quality bar."""
    if figures["min_cosine_documents"] < MIN_COSINE or \
            figures["recall_at_10"] < MIN_RECALL_AT_10:
        raise RuntimeError(f"INT8 graph below the quality bar (cosine >= {MIN_COSINE}, "
                           f"recall@10 >= {MIN_RECALL_AT_10}): {figures}")
