"""INT8 against fp32 embeddings, one run: ``python -m bench.embedding_int8``.

* docs/s through a real Triton server at batch 32, version 2 (INT8, the CPU
  default) against version 1 (fp32) on the same chunks: the embedder's own
  chunks of workload documents, the two versions measured in alternation;
* quality of the served INT8 vectors against the served fp32 ones: cosine per
  chunk, and recall@10 of INT8 neighbours against fp32 neighbours on
  ``models.minilm.quality.retrieval_set``;
* the ladder (in-process ONNX Runtime, one thread, same chunks): the recipes
  between fp32 and the fastest INT8 one, each with its speed and quality, and
  the share of the INT8 graph's time spent outside integer matrix products
  (ONNX Runtime's profiler): the floor of what quantizing weights can give.

Writes bench/results/embedding_int8.json (targets: >= 2.5x docs/s, recall@10 >= 0.95).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ratio, write
from mlmesh.embedding import OnnxEmbedder, TritonEmbedder
from mlmesh.embedding.client import FP32_VERSION, INT8_VERSION
from mlmesh.testing.triton import built_models_dir
from models.minilm import quality, quantize

log = logging.getLogger("bench.embedding_int8")
Embed = Callable[[Sequence[str]], np.ndarray]
INTEGER_OPS = ("MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulNBits",
               "DynamicQuantizeLinear")


def chunks(n: int = 512) -> list[str]:
    """The embedder's chunks (200 tokens, overlap 32) of workload documents."""
    from embedder.chunking import Chunker
    from mlmesh.embedding import MiniLMTokenizer
    from mlmesh.workload.generator import Workload, WorkloadConfig

    tok = MiniLMTokenizer()
    chunker = Chunker(tok, 200, 32, model_limit=tok.max_content_tokens)
    out: list[str] = []
    for rec in Workload(WorkloadConfig(users=400, events=60_000, doc_ratio=0.05,
                                       seed=5)).records():
        if rec.kind == "document":
            out.extend(c.text for c in chunker.split(rec.msg.text))  # type: ignore[union-attr]
        if len(out) >= n:
            break
    return out[:n]


def docs_per_s(embed: Embed, texts: list[str], seconds: float, batch: int = 32) -> float:
    batches = [texts[i:i + batch] for i in range(0, len(texts), batch)]
    embed(batches[0])
    done, t0, i = 0, time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        done += len(embed(batches[i % len(batches)]))
        i += 1
    return done / (time.perf_counter() - t0)


def alternate(embeds: dict[str, Embed], texts: list[str], seconds: float, rounds: int
              ) -> dict[str, float]:
    """Median docs/s of each, measured in turns so load changes hit all alike."""
    runs: dict[str, list[float]] = {k: [] for k in embeds}
    for _ in range(rounds):
        for name, embed in embeds.items():
            runs[name].append(docs_per_s(embed, texts, seconds))
    return {k: round(float(np.median(v)), 1) for k, v in runs.items()}


def served(texts: list[str], client: TritonEmbedder) -> np.ndarray:
    return np.concatenate([client.embed(texts[i:i + 32]) for i in range(0, len(texts), 32)])


def triton_part(texts: list[str], seconds: float, rounds: int) -> dict[str, Any]:
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.triton import TritonComponent

    with tempfile.TemporaryDirectory(prefix="mlmesh-bench-int8-") as state:
        comp = TritonComponent(Path(state), free_port(), free_port(), free_port(),
                               name="triton-int8")
        comp.start(timeout=180)
        fp32 = TritonEmbedder(comp.grpc_url, version=FP32_VERSION, timeout_s=120)
        int8 = TritonEmbedder(comp.grpc_url, version=INT8_VERSION, timeout_s=120)
        try:
            speed = alternate({"fp32": fp32.embed, "int8": int8.embed}, texts, seconds, rounds)
            cos = quality.cosines(served(texts, fp32), served(texts, int8))
            corpus, queries = quality.retrieval_set()
            recall = quality.recall_at_k(served(corpus, fp32), served(queries, fp32),
                                         served(corpus, int8), served(queries, int8))
        finally:
            fp32.close()
            int8.close()
            comp.stop()
    return {"docs_per_s": speed, "cosine_min": round(float(cos.min()), 4),
            "cosine_mean": round(float(cos.mean()), 4), "recall_at_10": round(recall, 3),
            "retrieval_set": {"corpus": len(corpus), "queries": len(queries)}}


def _variant(fp32: Path, out: Path, kind: str) -> Path:
    """A rung of the ladder: every weight dynamic INT8, or every weight blockwise."""
    logging.disable(logging.WARNING)
    try:
        if kind == "dynamic_all":
            quantize.dynamic_int8(fp32, out)
        else:
            quantize.blockwise_8bit(fp32, out)
    finally:
        logging.disable(logging.NOTSET)
    return out


def non_integer_share(model: Path, texts: list[str]) -> float:
    """Share of kernel time in ops other than the integer matrix products."""
    import onnxruntime as ort

    from mlmesh.embedding import MiniLMTokenizer

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "prof")
        sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        enc = MiniLMTokenizer().encode(texts[:32])
        for _ in range(3):
            sess.run(["sentence_embedding"], {"input_ids": enc.input_ids,
                                              "attention_mask": enc.attention_mask})
        events = json.loads(Path(sess.end_profiling()).read_text())
    by_op: Counter[str] = Counter()
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("kernel_time"):
            by_op[e["args"]["op_name"]] += int(e["dur"])
    total = sum(by_op.values()) or 1
    return round(sum(v for k, v in by_op.items() if k not in INTEGER_OPS) / total, 3)


def ladder(texts: list[str], seconds: float) -> list[dict[str, Any]]:
    models = built_models_dir() / "minilm"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mlmesh-int8-ladder-") as tmp:
        graphs = {"fp32": models / "model.onnx",
                  "blockwise_8bit_all": _variant(models / "model.onnx",
                                                 Path(tmp) / "nbits.onnx", "nbits"),
                  "shipped_int8 (dynamic attention + blockwise feed-forward)":
                      models / "model_int8.onnx",
                  "dynamic_int8_all": _variant(models / "model.onnx",
                                               Path(tmp) / "dyn.onnx", "dynamic_all")}
        embeds: dict[str, Embed] = {k: OnnxEmbedder(models, threads=1, graph=str(p)).embed
                                    for k, p in graphs.items()}
        speed = alternate(embeds, texts, seconds, 2)
        ref = embeds["fp32"](texts)
        for name, embed in embeds.items():
            cos = quality.cosines(ref, embed(texts))
            rows.append({"graph": name, "docs_per_s_1_thread": speed[name],
                         "x_fp32": round(speed[name] / speed["fp32"], 2),
                         "cosine_min": round(float(cos.min()), 4),
                         "outside_integer_products": None if name == "fp32"
                         else non_integer_share(graphs[name], texts)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-ladder", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    texts = chunks()
    triton = triton_part(texts, args.seconds, args.rounds)
    log.info("triton: %s", triton)
    speed = triton["docs_per_s"]
    payload: dict[str, Any] = {
        "chunks": len(texts), "batch": 32, "triton": triton,
        "ratios": [
            ratio("INT8 (version 2) vs fp32 (version 1) docs/s through Triton, batch 32",
                  speed["int8"], speed["fp32"], 2.5, "docs/s"),
            ratio("recall@10 of INT8 vectors against fp32 neighbours", triton["recall_at_10"],
                  1.0, 0.95, "share"),
        ],
    }
    if not args.no_ladder:
        payload["ladder"] = ladder(texts, args.seconds / 2)
        log.info("ladder: %s", payload["ladder"])
    log.info("wrote %s", write("embedding_int8", payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
