"""Inputs and reference data of the GPU embedding benchmark
(``bench/embedding_gpu_torch.py``): where the carried files live, the
``prepare`` step run here (weight index, tokenized inputs), reading the real
weights out of the fp16-weight ONNX file, the reference vectors and the
cosine check. numpy only, so it imports on the GPU machine as well."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("bench.embedding_gpu_data")

ROOT = Path(__file__).resolve().parents[1]
GPU_DIR = ROOT / ".mlmesh/gpu"
ONNX_PATH = GPU_DIR / "minilm_fp16w.onnx"
INDEX_PATH = GPU_DIR / "minilm_index.json"
INPUTS_PATH = GPU_DIR / "minilm_inputs.npz"
TEXTS_PATH = GPU_DIR / "corpus_texts.json"
TOKENIZER_PATH = GPU_DIR / "tokenizer.json"
FIXTURE = ROOT / "tests/fixtures/minilm_reference.json"
SEQS = (32, 128, 256)
BATCHES = (32, 128, 256)
CORPUS_ROWS = 1024
HEADS, HIDDEN, LAYERS, EPS = 12, 384, 6, 1e-12


# ---------------------------------------------------------------- prepare (here)
def _raw_offsets(onnx_path: Path) -> dict[str, dict[str, Any]]:
    import onnx
    from onnx import numpy_helper

    blob = onnx_path.read_bytes()
    index: dict[str, dict[str, Any]] = {}
    for init in onnx.load(str(onnx_path)).graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype not in (np.float16, np.float32) or arr.ndim == 0:
            continue
        raw = arr.tobytes()
        at = blob.find(raw)
        entry: dict[str, Any] = {"dtype": str(arr.dtype), "shape": list(arr.shape)}
        if at >= 0 and blob.find(raw, at + 1) < 0:
            entry["offset"] = at
        else:  # not stored verbatim or not unique: inline (small tensors only)
            entry["values"] = arr.astype(np.float32).ravel().tolist()
        index[init.name] = entry
    return index


def _corpus_texts(rows: int, min_chars: int) -> list[str]:
    from mlmesh.workload.generator import Workload, WorkloadConfig

    records = Workload(WorkloadConfig(events=50_000, doc_ratio=1.0,
                                      end_ms=1_700_000_000_000)).records()
    docs = (str(getattr(r.msg, "text", "")) for r in records if r.kind == "document")
    texts: list[str] = []
    for _ in range(rows):
        parts: list[str] = []
        while sum(len(p) for p in parts) < min_chars:
            parts.append(next(docs))
        texts.append(" ".join(parts))
    return texts


def prepare() -> None:
    from mlmesh.embedding.tokenizer import MiniLMTokenizer

    GPU_DIR.mkdir(parents=True, exist_ok=True)
    INDEX_PATH.write_text(json.dumps({"onnx": ONNX_PATH.name,
                                      "tensors": _raw_offsets(ONNX_PATH)}))
    sentences = json.loads(FIXTURE.read_text())["sentences"]
    ref = MiniLMTokenizer().encode(sentences)
    arrays: dict[str, np.ndarray] = {"ref_ids": ref.input_ids.astype(np.int32),
                                     "ref_mask": ref.attention_mask.astype(np.int8)}
    texts: dict[str, list[str]] = {}
    for seq in SEQS:
        tok = MiniLMTokenizer(max_seq_length=seq)
        corpus = _corpus_texts(CORPUS_ROWS, seq * 8)
        enc = tok.encode(corpus)
        if enc.input_ids.shape[1] != seq or not enc.attention_mask.all():
            raise ValueError(f"corpus rows at seq {seq} are not all full length")
        arrays[f"ids_{seq}"] = enc.input_ids.astype(np.int32)
        # the same texts cut after seq-2 word pieces: the tokenizer bench's input
        texts[str(seq)] = [t[:tok.token_offsets(t)[seq - 2][0]] for t in corpus]
    TEXTS_PATH.write_text(json.dumps(texts))
    TOKENIZER_PATH.write_bytes(tok.path.read_bytes())
    np.savez_compressed(INPUTS_PATH, **arrays)  # type: ignore[arg-type]
    weights = load_weights(ONNX_PATH, INDEX_PATH)
    check_numpy(weights, ref.input_ids, ref.attention_mask)
    log.info("wrote %s and %s", INDEX_PATH, INPUTS_PATH)


def check_numpy(weights: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> None:
    """The weights read through the index, run by the float64 numpy reference."""
    from models.minilm.numpy_ref import embed
    from models.minilm.weights import load_config, package_model_dir

    vecs = embed(weights, load_config(package_model_dir()), ids, mask)
    cos = float(min_cosine(vecs, reference_vectors()))
    log.info("numpy forward on indexed fp16 weights vs fixture: min cosine %.6f", cos)
    if cos < 0.9999:
        raise ValueError(f"indexed weights are wrong: min cosine {cos}")


# ------------------------------------------------------------ shared helpers
def load_weights(onnx_path: Path, index_path: Path) -> dict[str, np.ndarray]:
    """Safetensors-named float32 weights (torch ``[out, in]`` layout) out of the ONNX file."""
    index = json.loads(index_path.read_text())["tensors"]
    blob = np.memmap(onnx_path, dtype=np.uint8, mode="r")
    out: dict[str, np.ndarray] = {}
    for name, e in index.items():
        dtype, shape = np.dtype(e["dtype"]), tuple(e["shape"])
        if "offset" in e:
            size = int(np.prod(shape)) * dtype.itemsize
            arr = np.frombuffer(blob[e["offset"]:e["offset"] + size].tobytes(), dtype=dtype)
        else:
            arr = np.asarray(e["values"], dtype=np.float32)
        arr = arr.reshape(shape).astype(np.float32)
        key = name.removesuffix("__fp16")
        if key.endswith(".weight_t"):
            key, arr = key.removesuffix("_t"), np.ascontiguousarray(arr.T)
        elif key == "embeddings.token_type0":
            key, arr = "embeddings.token_type_embeddings.weight", arr[None, :]
        out[key] = arr
    return out


def reference_vectors() -> np.ndarray:
    return np.asarray(json.loads(FIXTURE.read_text())["embeddings"], dtype=np.float32)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = (a64 * b64).sum(1) / np.maximum(
        np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1), 1e-30)
    return float(cos.min())


def timed(step: Callable[[int], object], seconds: float, batch: int,
          warmup: int = 5) -> dict[str, Any]:
    """Serial batches: each returns its vectors to the host before the next starts."""
    for i in range(warmup):
        step(i)
    lat: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or len(lat) < 10:
        s = time.perf_counter()
        step(len(lat))
        lat.append(time.perf_counter() - s)
    elapsed = time.perf_counter() - t0
    return {"docs_per_s": round(len(lat) * batch / elapsed, 1), "batches": len(lat),
            "batch_ms_p50": round(float(np.percentile(lat, 50)) * 1e3, 3),
            "batch_ms_p99": round(float(np.percentile(lat, 99)) * 1e3, 3)}


# ------------------------------------------------------------ torch model


def bench_tokenizer(out: Path, seconds: float) -> None:
    """Server-side tokenization (``tokenizers``, as the Triton python backend does it) on
    this machine's CPU, batches of 32; ``RAYON_NUM_THREADS`` sets its threads."""
    from tokenizers import Tokenizer

    threads = os.environ.get("RAYON_NUM_THREADS", "default")
    texts = json.loads(TEXTS_PATH.read_text())
    result = json.loads(out.read_text()) if out.exists() else {}
    rows: dict[str, Any] = {}
    for seq in SEQS:
        tok = Tokenizer.from_file(str(TOKENIZER_PATH))
        tok.enable_truncation(max_length=256)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        corpus = texts[str(seq)]
        batches = [corpus[i:i + 32] for i in range(0, len(corpus), 32)]
        lens = [len(e.ids) for e in tok.encode_batch(batches[0])]

        def step(i: int, tok: Tokenizer = tok, batches: list[list[str]] = batches) -> object:
            return tok.encode_batch(batches[i % len(batches)])

        rows[f"seq{seq}_b32"] = dict(timed(step, seconds, 32), tokens_per_text=max(lens))
        log.info("tokenize threads=%s seq %d %s", threads, seq, json.dumps(rows[f"seq{seq}_b32"]))
    result.setdefault("tokenize_cpu", {})[f"rayon_threads_{threads}"] = rows
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
