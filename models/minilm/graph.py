"""Build the all-MiniLM-L6-v2 sentence-embedding graph directly with
``onnx.helper`` from the safetensors weights (no torch anywhere).

Graph contract (opset 17):
  inputs   input_ids       int64 [batch, seq]
           attention_mask  int64 [batch, seq]
  output   sentence_embedding float32 [batch, 384]  (mean-pooled over the
           attention mask, L2-normalised: what sentence-transformers returns)

Token type ids are always 0 for single-sentence embedding, so the type-0 row
of the token-type table is folded into a constant instead of being an input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.minilm.weights import BertConfig

OPSET = 17
OUTPUT = "sentence_embedding"


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str = "", **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x: str, w: np.ndarray, b: np.ndarray, prefix: str) -> str:
        """x @ W^T + b for a torch-layout ``[out, in]`` weight."""
        wt = self.const(f"{prefix}.weight_t", np.ascontiguousarray(w.T))
        bias = self.const(f"{prefix}.bias", b)
        return self.op("Add", [self.op("MatMul", [x, wt]), bias], hint=prefix)

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        g = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, g, b], hint=prefix, axis=-1, epsilon=eps)


def _attention(bld: _Builder, x: str, mask_bias: str, w: dict[str, np.ndarray],
               p: str, cfg: BertConfig) -> str:
    heads_shape = bld.const(f"{p}.heads_shape",
                            np.array([0, 0, cfg.heads, cfg.head_dim], dtype=np.int64))
    merged_shape = bld.const(f"{p}.merged_shape", np.array([0, 0, cfg.hidden], dtype=np.int64))

    def project(kind: str, perm: list[int]) -> str:
        y = bld.linear(x, w[f"{p}.self.{kind}.weight"], w[f"{p}.self.{kind}.bias"],
                       f"{p}.self.{kind}")
        return bld.op("Transpose", [bld.op("Reshape", [y, heads_shape])], perm=perm)

    q = project("query", [0, 2, 1, 3])  # [B, H, S, D]
    k = project("key", [0, 2, 3, 1])  # [B, H, D, S]
    v = project("value", [0, 2, 1, 3])  # [B, H, S, D]
    scale = bld.const(f"{p}.scale", np.array(1.0 / math.sqrt(cfg.head_dim), dtype=np.float32))
    scores = bld.op("Add", [bld.op("Mul", [bld.op("MatMul", [q, k]), scale]), mask_bias])
    probs = bld.op("Softmax", [scores], axis=-1)
    ctx = bld.op("Transpose", [bld.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    ctx = bld.op("Reshape", [ctx, merged_shape])
    out = bld.linear(ctx, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"],
                     f"{p}.output.dense")
    return bld.layer_norm(bld.op("Add", [out, x]), w, f"{p}.output.LayerNorm", cfg.eps)


def _gelu(bld: _Builder, x: str) -> str:
    """Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    inv_sqrt2 = bld.const(bld.name("inv_sqrt2"), np.array(1 / math.sqrt(2), dtype=np.float32))
    one = bld.const(bld.name("one"), np.array(1.0, dtype=np.float32))
    half = bld.const(bld.name("half"), np.array(0.5, dtype=np.float32))
    erf = bld.op("Erf", [bld.op("Mul", [x, inv_sqrt2])])
    return bld.op("Mul", [bld.op("Mul", [x, half]), bld.op("Add", [erf, one])], hint="gelu")


def _ffn(bld: _Builder, x: str, w: dict[str, np.ndarray], p: str, cfg: BertConfig) -> str:
    inter = bld.linear(x, w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"],
                       f"{p}.intermediate.dense")
    out = bld.linear(_gelu(bld, inter), w[f"{p}.output.dense.weight"],
                     w[f"{p}.output.dense.bias"], f"{p}.output.dense")
    return bld.layer_norm(bld.op("Add", [out, x]), w, f"{p}.output.LayerNorm", cfg.eps)


def build_model(weights: dict[str, np.ndarray], cfg: BertConfig) -> onnx.ModelProto:
    bld = _Builder()
    ax0 = bld.const("axis0", np.array([0], dtype=np.int64))
    ax1 = bld.const("axis1", np.array([1], dtype=np.int64))

    # Embeddings: word + position[0:S] + token_type[0], then LayerNorm.
    word = bld.op("Gather", [bld.const("embeddings.word_embeddings.weight",
                                       weights["embeddings.word_embeddings.weight"]),
                             "input_ids"], hint="word_emb", axis=0)
    seq_len = bld.op("Slice", [bld.op("Shape", ["input_ids"]), ax1,
                               bld.const("axis2", np.array([2], dtype=np.int64))])
    pos = bld.op("Slice", [bld.const("embeddings.position_embeddings.weight",
                                     weights["embeddings.position_embeddings.weight"]),
                           ax0, seq_len, ax0], hint="pos_emb")
    type0 = bld.const("embeddings.token_type0",
                      weights["embeddings.token_type_embeddings.weight"][0].copy())
    emb = bld.op("Add", [bld.op("Add", [word, pos]), type0])
    x = bld.layer_norm(emb, weights, "embeddings.LayerNorm", cfg.eps)

    # Additive attention bias [B, 1, 1, S]: 0 for tokens, -10000 for padding.
    mask_f = bld.op("Cast", ["attention_mask"], hint="mask_f", to=TensorProto.FLOAT)
    one = bld.const("one_f", np.array(1.0, dtype=np.float32))
    neg = bld.const("neg_big", np.array(-10000.0, dtype=np.float32))
    mask_bias = bld.op("Mul", [bld.op("Sub", [one, mask_f]), neg])
    mask_bias = bld.op("Unsqueeze", [mask_bias, bld.const("axes12", np.array([1, 2], np.int64))])

    for i in range(cfg.layers):
        p = f"encoder.layer.{i}"
        x = _attention(bld, x, mask_bias, weights, f"{p}.attention", cfg)
        x = _ffn(bld, x, weights, p, cfg)

    # Mean pooling over real tokens, then L2 normalisation (clamped like torch).
    mask3 = bld.op("Unsqueeze", [mask_f, bld.const("axis2u", np.array([2], np.int64))])
    summed = bld.op("ReduceSum", [bld.op("Mul", [x, mask3]), ax1], keepdims=0)
    count = bld.op("ReduceSum", [mask3, ax1], keepdims=0)
    count = bld.op("Max", [count, bld.const("min_count", np.array(1e-9, dtype=np.float32))])
    mean = bld.op("Div", [summed, count], hint="mean_pooled")
    sq = bld.op("ReduceSum", [bld.op("Mul", [mean, mean]), ax1], keepdims=1)
    norm = bld.op("Max", [bld.op("Sqrt", [sq]),
                          bld.const("min_norm", np.array(1e-12, dtype=np.float32))])
    bld.nodes.append(helper.make_node("Div", [mean, norm], [OUTPUT], name="l2_normalise"))

    graph = helper.make_graph(
        bld.nodes, "all_minilm_l6_v2",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        outputs=[helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", cfg.hidden])],
        initializer=bld.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mlmesh-models")
    model.ir_version = 8  # readable by onnxruntime >= 1.10 and Triton's ORT backend
    helper.set_model_props(model, {"source": "sentence-transformers/all-MiniLM-L6-v2",
                                   "pooling": "mean", "normalize": "l2",
                                   "max_seq_length": str(cfg.max_seq_length)})
    onnx.checker.check_model(model)
    return model
