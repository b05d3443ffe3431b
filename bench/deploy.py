"""GPU throughput of the embedding model's architecture, for docs/scaling.md.

Measures documents/s of an all-MiniLM-L6-v2-shaped encoder (6 layers, hidden 384,
12 heads, FFN 1536, mean pooling + L2 normalisation) on the GPU in FP16, at the
sequence lengths the embedder sends (truncation 256; typical documents ~128).
Weights are random: throughput does not depend on their values, and the real
weights (90 MB) need not travel to the GPU machine. The CPU figure of the same
graph in FP32, measured in the same run, is the baseline the GPU figure is a
ratio against.

    python bench/deploy.py            # writes bench/results/deploy.json

Needs torch (with CUDA for the GPU rows); exits 0 with a note when absent.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.deploy")

VOCAB = 30522
HIDDEN = 384
LAYERS = 6
HEADS = 12
FFN = 1536


def build_encoder(torch: Any) -> Any:
    nn = torch.nn

    class Encoder(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(VOCAB, HIDDEN)
            self.pos = nn.Embedding(512, HIDDEN)
            layer = nn.TransformerEncoderLayer(
                HIDDEN, HEADS, FFN, activation="gelu", batch_first=True, norm_first=False
            )
            self.enc = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)

        def forward(self, ids: Any, mask: Any) -> Any:
            pos = torch.arange(ids.shape[1], device=ids.device)
            x = self.tok(ids) + self.pos(pos)[None, :, :]
            x = self.enc(x, src_key_padding_mask=~mask)
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return Encoder().eval()


def measure(torch: Any, model: Any, device: str, batch: int, seq: int, seconds: float) -> float:
    ids = torch.randint(0, VOCAB, (batch, seq), device=device)
    mask = torch.ones(batch, seq, dtype=torch.bool, device=device)
    with torch.inference_mode():
        for _ in range(3):
            model(ids, mask)
        if device == "cuda":
            torch.cuda.synchronize()
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(ids, mask)
            n += 1
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    return n * batch / elapsed


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(__file__).resolve().parent / "results" / "deploy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        import torch
    except ImportError:
        log.info("torch not installed: nothing measured")
        return 0
    torch.manual_seed(0)
    result: dict[str, Any] = {"model": "MiniLM-L6 shape (6x384, 12 heads)", "rows": []}
    cpu_threads = torch.get_num_threads()
    model = build_encoder(torch)
    cpu = measure(torch, model, "cpu", 32, 128, 3.0)
    result["baseline"] = {
        "device": "cpu",
        "dtype": "fp32",
        "threads": cpu_threads,
        "batch": 32,
        "seq": 128,
        "docs_per_s": round(cpu, 1),
        "docs_per_s_per_thread": round(cpu / cpu_threads, 1),
    }
    if torch.cuda.is_available():
        gpu_model = build_encoder(torch).to("cuda").half()
        result["gpu"] = torch.cuda.get_device_name(0)
        for seq in (128, 256):
            for batch in (64, 256, 1024):
                rate = measure(torch, gpu_model, "cuda", batch, seq, 3.0)
                result["rows"].append(
                    {
                        "device": "cuda",
                        "dtype": "fp16",
                        "batch": batch,
                        "seq": seq,
                        "docs_per_s": round(rate, 1),
                        "x_vs_cpu_baseline": round(rate / cpu, 1),
                    }
                )
    out.write_text(json.dumps(result, indent=2))
    json.dump(result, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
