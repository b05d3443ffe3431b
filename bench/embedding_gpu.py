"""all-MiniLM-L6-v2 on a GPU: ONNX Runtime TensorRT (FP16) and CUDA execution
providers vs CPU at batch 32, on the graph built by ``make models``.

Needs only numpy + onnxruntime-gpu on the GPU machine (synthetic token ids:
throughput does not depend on which ids they are). The 90 MB fp32 model can be
shipped as a 45 MB "transport" copy whose weights are stored in fp16 and cast
back to fp32 inside the graph (cosine to the fp32 model >= 0.9999, checked here):

    # here (has onnx):
    python bench/embedding_gpu.py --make-transport .mlmesh/gpu/minilm_fp16w.onnx
    # on the GPU machine (carry .mlmesh/gpu):
    python bench/embedding_gpu.py --model .mlmesh/gpu/minilm_fp16w.onnx --out $OUT/gpu.json

Writes JSON: docs/s per provider, ratio vs CPU measured in the same run, and the
minimum cosine of each provider's vectors against CPU's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench.embedding_gpu")


def make_transport(src: Path, dst: Path) -> None:
    """fp32 initializers -> fp16 + Cast(to=FLOAT); the graph math stays fp32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    casts = []
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT or len(init.dims) == 0:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < 1024:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name],
                                      name=f"cast_{name}", to=TensorProto.FLOAT))
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(dst))
    log.info("wrote %s (%.1f MB)", dst, dst.stat().st_size / 1e6)


def synthetic_batch(batch: int, seq: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, size=(batch, seq), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def providers_to_try(available: list[str], cache: Path) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {"cpu": ["CPUExecutionProvider"]}
    if "CUDAExecutionProvider" in available:
        out["cuda"] = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if "TensorrtExecutionProvider" in available:
        trt = {"trt_fp16_enable": True, "trt_engine_cache_enable": True,
               "trt_engine_cache_path": str(cache), "trt_max_workspace_size": 2 << 30}
        out["tensorrt_fp16"] = [("TensorrtExecutionProvider", trt), "CUDAExecutionProvider",
                                "CPUExecutionProvider"]
    return out


def time_session(sess: object, feeds: dict[str, np.ndarray], seconds: float) -> dict[str, float]:
    run = sess.run  # type: ignore[attr-defined]
    for _ in range(3):
        run(["sentence_embedding"], feeds)
    n, lat = 0, []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = time.perf_counter()
        run(["sentence_embedding"], feeds)
        lat.append(time.perf_counter() - s)
        n += 1
    elapsed = time.perf_counter() - t0
    batch = feeds["input_ids"].shape[0]
    return {"docs_per_s": round(n * batch / elapsed, 1), "batches": n,
            "batch_ms_p50": round(float(np.percentile(lat, 50)) * 1e3, 3),
            "batch_ms_p99": round(float(np.percentile(lat, 99)) * 1e3, 3)}


def bench(model: Path, batch: int, seqs: list[int], seconds: float) -> dict[str, object]:
    try:
        import onnxruntime as ort
    except ImportError:
        return {"error": "onnxruntime not importable (pip install onnxruntime-gpu)"}
    available = list(ort.get_available_providers())
    result: dict[str, object] = {"onnxruntime": ort.__version__, "available": available,
                                 "model": str(model), "batch": batch}
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "mlmesh_trt_cache"
    cache.mkdir(parents=True, exist_ok=True)
    per_seq: dict[str, object] = {}
    for seq in seqs:
        feeds = synthetic_batch(batch, seq)
        rows: dict[str, dict[str, object]] = {}
        ref: np.ndarray | None = None
        for label, provs in providers_to_try(available, cache).items():
            try:
                t0 = time.perf_counter()
                sess = ort.InferenceSession(str(model), providers=provs)
                first = np.asarray(sess.run(["sentence_embedding"], feeds)[0])
                init_s = time.perf_counter() - t0
                stats: dict[str, object] = dict(time_session(sess, feeds, seconds))
                stats["init_plus_first_run_s"] = round(init_s, 2)
                stats["providers"] = sess.get_providers()
                if ref is None:
                    ref = first
                cos = (first * ref).sum(1) / (np.linalg.norm(first, axis=1)
                                              * np.linalg.norm(ref, axis=1))
                stats["min_cosine_vs_cpu"] = round(float(cos.min()), 6)
                rows[label] = stats
            except Exception as exc:
                rows[label] = {"error": repr(exc)[:500]}
        base = rows.get("cpu", {}).get("docs_per_s")
        for row in rows.values():
            speed = row.get("docs_per_s")
            if isinstance(base, float) and isinstance(speed, float) and base > 0:
                row["ratio_vs_cpu"] = round(speed / base, 2)
        per_seq[f"seq_{seq}"] = dict(rows)
        log.info("seq %d: %s", seq, json.dumps(rows))
    result["results"] = per_seq
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / ".mlmesh/models/minilm/model.onnx")
    parser.add_argument("--make-transport", type=Path, default=None, metavar="DST")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/embedding_gpu.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.make_transport:
        make_transport(args.model, args.make_transport)
        import onnxruntime as ort

        feeds = synthetic_batch(8, 64)
        a, b = (np.asarray(ort.InferenceSession(str(m), providers=["CPUExecutionProvider"])
                           .run(["sentence_embedding"], feeds)[0])
                for m in (args.model, args.make_transport))
        cos = float(((a * b).sum(1)).min())
        log.info("transport vs fp32 model on CPU: min cosine %.6f", cos)
        return 0 if cos >= 0.9999 else 1
    result = bench(args.model, args.batch, args.seq, args.seconds)
    result.update({"bench": "embedding_gpu", "platform": platform.platform(),
                   "cpu_count": os.cpu_count()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
