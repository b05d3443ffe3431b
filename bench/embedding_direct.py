"""Embedding throughput: in-process ONNX Runtime at batch 32 (the embedder's
baseline) and, with ``--triton``, the same corpus through a real Triton server
started for the run (ratio against the direct figure of the same run).

    PYTHONPATH=lib python bench/embedding_direct.py [--triton] [--seconds 10]

Writes bench/results/embedding_direct.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from mlmesh.embedding import MiniLMTokenizer, OnnxEmbedder, TritonEmbedder  # noqa: E402
from mlmesh.embedding.tokenizer import default_model_dir  # noqa: E402

log = logging.getLogger("bench.embedding_direct")
WORDS = ("user", "order", "payment", "device", "session", "window", "fraud", "score",
         "stream", "feature", "vector", "latency", "batch", "model", "search", "click",
         "basket", "checkout", "refund", "account", "login", "merchant", "card", "anomaly",
         "alert", "embedding", "index", "partition", "replay", "offset")


def corpus(n: int, lo: int = 16, hi: int = 128, seed: int = 42) -> list[str]:
    """Deterministic documents of ``lo``-``hi`` words (16-128: about 20-160 tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "."
            for _ in range(n)]


def measure(embed: Callable[[Sequence[str]], np.ndarray], docs: list[str], batch: int,
            seconds: float, concurrency: int = 1) -> dict[str, float]:
    batches = [docs[i:i + batch] for i in range(0, len(docs), batch)]
    embed(batches[0])  # warm-up
    done, calls = 0, 0
    latencies: list[float] = []
    t0 = time.perf_counter()

    def one(b: Sequence[str]) -> float:
        s = time.perf_counter()
        embed(b)
        return time.perf_counter() - s

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        while time.perf_counter() - t0 < seconds:
            chunk = [batches[(calls + k) % len(batches)] for k in range(concurrency)]
            for b, lat in zip(chunk, pool.map(one, chunk), strict=True):
                latencies.append(lat)
                done += len(b)
            calls += concurrency
    elapsed = time.perf_counter() - t0
    return {"docs_per_s": round(done / elapsed, 1), "batches": calls,
            "batch_ms_p50": round(float(np.percentile(latencies, 50)) * 1e3, 1),
            "batch_ms_p99": round(float(np.percentile(latencies, 99)) * 1e3, 1)}


def bench_triton(docs: list[str], batch: int, seconds: float) -> dict[str, object]:
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.triton import TritonComponent

    with tempfile.TemporaryDirectory(prefix="mlmesh-bench-triton-") as state:
        comp = TritonComponent(Path(state), free_port(), free_port(), free_port(),
                               name="triton-bench")
        t0 = time.monotonic()
        comp.start(timeout=180)
        start_s = time.monotonic() - t0
        client = TritonEmbedder(comp.grpc_url, timeout_s=120)
        try:
            out: dict[str, object] = {"start_seconds": round(start_s, 2)}
            out["batch32_c1"] = measure(client.embed, docs, batch, seconds)
            out["batch32_c2"] = measure(client.embed, docs, batch, seconds, concurrency=2)
            out["batch1_c8"] = measure(client.embed, docs, 1, seconds / 2, concurrency=8)
        finally:
            client.close()
            comp.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--triton", action="store_true", help="also measure through Triton")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/embedding_direct.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    docs = corpus(512)
    tok = MiniLMTokenizer(default_model_dir() / "tokenizer.json")
    mean_tokens = float(np.mean(tok.count_tokens_batch(docs))) + 2
    result: dict[str, object] = {
        "bench": "embedding_direct", "model": "all-MiniLM-L6-v2 (ONNX, pooling+norm in graph)",
        "batch": args.batch, "mean_tokens_per_doc": round(mean_tokens, 1),
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
    }
    sentences = corpus(512, 6, 20, seed=7)
    result["mean_tokens_per_sentence"] = round(
        float(np.mean(tok.count_tokens_batch(sentences))) + 2, 1)
    direct: dict[str, dict[str, float]] = {}
    for threads in (1, 0):
        emb = OnnxEmbedder(threads=threads, batch_size=args.batch)
        key = f"threads_{threads or 'all'}"
        direct[key] = measure(emb.embed, docs, args.batch, args.seconds)
        direct[f"{key}_short_sentences"] = measure(emb.embed, sentences, args.batch,
                                                   args.seconds / 2)
        log.info("direct %s %s", key, direct[key])
    result["direct"] = direct
    baseline = direct["threads_all"]["docs_per_s"]
    result["baseline_docs_per_s"] = baseline
    if args.triton:
        triton = bench_triton(docs, args.batch, args.seconds)
        for key in ("batch32_c1", "batch32_c2", "batch1_c8"):
            stats = triton[key]
            assert isinstance(stats, dict)
            stats["ratio_vs_direct"] = round(stats["docs_per_s"] / baseline, 3)
        result["triton"] = triton
        log.info("triton %s", triton)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
