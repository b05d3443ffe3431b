"""An independent pure-numpy forward pass of all-MiniLM-L6-v2 (BERT encoder,
mean pooling, L2 normalisation), written straight from the weights, used to
verify the hand-built ONNX graph. Slow (float64), for tests and the build check.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf  # type: ignore[import-untyped]

from models.minilm.weights import BertConfig


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def embed(weights: dict[str, np.ndarray], cfg: BertConfig, input_ids: np.ndarray,
          attention_mask: np.ndarray) -> np.ndarray:
    """``input_ids``/``attention_mask`` int [B, S] -> float32 [B, hidden]."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    batch, seq = input_ids.shape
    x = (w["embeddings.word_embeddings.weight"][input_ids]
         + w["embeddings.position_embeddings.weight"][:seq][None, :, :]
         + w["embeddings.token_type_embeddings.weight"][0][None, None, :])
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg.eps)
    mask = attention_mask.astype(np.float64)
    bias = np.where(mask > 0, 0.0, -1e9)[:, None, None, :]

    def lin(t: np.ndarray, name: str) -> np.ndarray:
        return np.asarray(t @ w[f"{name}.weight"].T + w[f"{name}.bias"])

    def split(t: np.ndarray) -> np.ndarray:  # [B,S,H*D] -> [B,H,S,D]
        return t.reshape(batch, seq, cfg.heads, cfg.head_dim).transpose(0, 2, 1, 3)

    for i in range(cfg.layers):
        p = f"encoder.layer.{i}"
        q = split(lin(x, f"{p}.attention.self.query"))
        k = split(lin(x, f"{p}.attention.self.key"))
        v = split(lin(x, f"{p}.attention.self.value"))
        att = _softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(cfg.head_dim) + bias)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(batch, seq, cfg.hidden)
        x = _layer_norm(lin(ctx, f"{p}.attention.output.dense") + x,
                        w[f"{p}.attention.output.LayerNorm.weight"],
                        w[f"{p}.attention.output.LayerNorm.bias"], cfg.eps)
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
        x = _layer_norm(lin(h, f"{p}.output.dense") + x, w[f"{p}.output.LayerNorm.weight"],
                        w[f"{p}.output.LayerNorm.bias"], cfg.eps)

    pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norm = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norm).astype(np.float32)
