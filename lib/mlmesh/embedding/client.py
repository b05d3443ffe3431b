"""Embedding clients shared by the embedder and inference services.

* ``TritonEmbedder``: raw text to Triton's ``minilm_embedding`` over gRPC (the
  server tokenizes; dynamic batching merges concurrent callers).
* ``OnnxEmbedder``: the same graph in-process with ONNX Runtime (the baseline
  for benchmarks and the reference in integration tests).

Both return L2-normalised float32 ``[n, 384]`` and satisfy ``Embedder``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlmesh.embedding.tokenizer import MiniLMTokenizer, default_model_dir

DIM = 384
MODEL_NAME = "minilm_embedding"
# Versions of MODEL_NAME in the CPU model repository (deploy/triton): 1 is the
# fp32 graph, 2 its INT8 quantization (the default on CPU). The GPU repository
# serves 1 only (TensorRT FP16 of the fp32 graph: the same vector space).
FP32_VERSION = "1"
INT8_VERSION = "2"
DEFAULT_VERSION = INT8_VERSION
# the graph file of `make models` behind each version (for in-process baselines)
GRAPH_FILES = {FP32_VERSION: "model.onnx", INT8_VERSION: "model_int8.onnx"}
# gRPC status codes meaning "the server is not there / not serving right now".
_UNAVAILABLE_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "RESOURCE_EXHAUSTED")


class EmbeddingError(RuntimeError):
    """The embedding request failed (bad input, model error)."""


class EmbeddingUnavailable(EmbeddingError):
    """Triton cannot be reached, timed out, or the model is not loaded: retry later."""


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class TritonEmbedder:
    """Thread-safe: one gRPC channel, calls from many threads are fine."""

    def __init__(self, url: str, model: str = MODEL_NAME, version: str = "",
                 timeout_s: float = 10.0, max_batch: int = 64) -> None:
        import tritonclient.grpc as grpcclient

        self.url = url  # the caller's settings say where Triton is (triton_grpc)
        self.model, self.version = model, version
        self.timeout_s, self.max_batch = timeout_s, max_batch
        self.dim = DIM
        self._grpc = grpcclient
        self._client = grpcclient.InferenceServerClient(url=self.url)

    def _classify(self, exc: Exception) -> EmbeddingError:
        status = str(getattr(exc, "status", lambda: "")() or "")
        text = str(exc)
        if any(code in status or code in text for code in _UNAVAILABLE_CODES) or \
                "not found" in text or "not ready" in text or "unavailable" in text.lower():
            return EmbeddingUnavailable(f"triton {self.url} model {self.model}: {text}")
        return EmbeddingError(f"triton {self.url} model {self.model}: {text}")

    def ready(self) -> bool:
        try:
            return bool(self._client.is_model_ready(self.model, self.version,
                                                    client_timeout=self.timeout_s))
        except Exception:
            return False

    def _infer(self, texts: Sequence[str]) -> np.ndarray:
        data = np.array([t.encode("utf-8") for t in texts], dtype=np.object_).reshape(-1, 1)
        inp = self._grpc.InferInput("TEXT", list(data.shape), "BYTES")
        inp.set_data_from_numpy(data)
        try:
            result = self._client.infer(
                self.model, [inp], model_version=self.version,
                outputs=[self._grpc.InferRequestedOutput("EMBEDDING")],
                client_timeout=self.timeout_s)
        except Exception as exc:
            raise self._classify(exc) from exc
        out = result.as_numpy("EMBEDDING")
        if out is None or out.shape != (len(texts), self.dim):
            raise EmbeddingError(f"unexpected EMBEDDING shape {getattr(out, 'shape', None)}")
        return np.asarray(out, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._infer(texts[i:i + self.max_batch])
                 for i in range(0, len(texts), self.max_batch)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def statistics(self) -> dict[str, Any]:
        """Triton's per-model statistics (inference_count, execution_count, ...)."""
        try:
            stats: dict[str, Any] = self._client.get_inference_statistics(
                self.model, self.version, as_json=True, client_timeout=self.timeout_s)
        except Exception as exc:
            raise self._classify(exc) from exc
        return stats

    def close(self) -> None:
        self._client.close()


class OnnxEmbedder:
    """In-process ONNX Runtime on ``<state>/models/minilm/model.onnx`` (or, with
    ``graph="model_int8.onnx"``, the INT8 copy Triton serves as version 2)."""

    def __init__(self, model_dir: Path | str | None = None, threads: int = 0,
                 batch_size: int = 32, providers: Sequence[str] = ("CPUExecutionProvider",),
                 graph: str = "model.onnx"):
        import onnxruntime as ort

        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.tokenizer = MiniLMTokenizer(self.model_dir / "tokenizer.json")
        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.model_dir / graph), opts,
                                            providers=list(providers))
        self.batch_size = batch_size
        self.dim = DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Texts sorted by token count and run in chunks of ``batch_size``, so each
        chunk is padded only to its own longest text (as the Triton model does)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = np.argsort(self.tokenizer.count_tokens_batch(texts), kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = self.tokenizer.encode([texts[i] for i in idx])
            vecs = self.session.run(["sentence_embedding"], {
                "input_ids": enc.input_ids, "attention_mask": enc.attention_mask})[0]
            out[idx] = vecs
        return out
