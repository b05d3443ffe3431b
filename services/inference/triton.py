"""Triton calls on the request path: the query embedding and the scoring model.

One gRPC channel (``tritonclient.grpc``) shared by all worker threads; every
call takes the caller's remaining deadline as its client timeout. Failures are
split into "Triton is not there" (:class:`TritonUnavailable`: connection refused,
deadline, model not loaded) and anything else (:class:`TritonFailed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_DOWN = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "failed to connect",
         "Connection refused", "Socket closed", "not found", "unavailable", "not ready",
         "Deadline Exceeded")


class TritonFailed(RuntimeError):
    pass


class TritonUnavailable(TritonFailed):
    pass


class TritonGateway:
    def __init__(self, url: str, scorer_model: str, embedding_model: str,
                 embedding_version: str = "") -> None:
        """``embedding_version``: the version queries are embedded with, the one
        whose vectors retrieval searches (empty: Triton's choice, for tools)."""
        import tritonclient.grpc as grpcclient

        self.url = url
        self.scorer_model = scorer_model
        self.embedding_model = embedding_model
        self.embedding_version = embedding_version
        self._g = grpcclient
        self._client = grpcclient.InferenceServerClient(url=url)

    def _error(self, exc: Exception, what: str) -> TritonFailed:
        status = getattr(exc, "status", None)
        text = f"{status() if callable(status) else ''} {exc}"
        cls = TritonUnavailable if any(s in text for s in _DOWN) else TritonFailed
        return cls(f"triton {self.url} {what}: {str(exc).strip()[:300]}")

    def score(self, version: str, rows: Sequence[Sequence[float]], timeout_s: float
              ) -> np.ndarray:
        data = np.asarray(rows, dtype=np.float32)
        inp = self._g.InferInput("FEATURES", list(data.shape), "FP32")
        inp.set_data_from_numpy(data)
        try:
            result = self._client.infer(
                self.scorer_model, [inp], model_version=version,
                outputs=[self._g.InferRequestedOutput("SCORE")],
                client_timeout=max(timeout_s, 0.001))
        except Exception as exc:  # classified below
            raise self._error(exc, f"{self.scorer_model} v{version}") from exc
        out = result.as_numpy("SCORE")
        if out is None:
            raise TritonFailed(f"{self.scorer_model} v{version} returned no SCORE")
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def embed(self, text: str, timeout_s: float) -> np.ndarray:
        data = np.array([[text.encode("utf-8")]], dtype=np.object_)
        inp = self._g.InferInput("TEXT", [1, 1], "BYTES")
        inp.set_data_from_numpy(data)
        try:
            result = self._client.infer(
                self.embedding_model, [inp], model_version=self.embedding_version,
                outputs=[self._g.InferRequestedOutput("EMBEDDING")],
                client_timeout=max(timeout_s, 0.001))
        except Exception as exc:  # classified below
            raise self._error(exc, f"{self.embedding_model} v{self.embedding_version or '?'}") \
                from exc
        out = result.as_numpy("EMBEDDING")
        if out is None or out.shape[-1] != 384:
            raise TritonFailed(f"{self.embedding_model}: unexpected EMBEDDING output")
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def scorer_versions(self, timeout_s: float = 2.0) -> list[str]:
        """Versions of the scorer Triton reports (ascending)."""
        meta: Any = self._client.get_model_metadata(self.scorer_model, as_json=True,
                                                    client_timeout=timeout_s)
        return sorted((str(v) for v in meta.get("versions", [])), key=int)

    def version_ready(self, version: str, timeout_s: float = 2.0) -> bool:
        try:
            return bool(self._client.is_model_ready(self.scorer_model, version,
                                                    client_timeout=timeout_s))
        except Exception:
            return False

    def load_scorer(self, timeout_s: float = 120.0) -> None:
        """Repository load of the scorer (explicit model control): Triton picks
        up version directories published since its last load."""
        try:
            self._client.load_model(self.scorer_model, client_timeout=timeout_s)
        except Exception as exc:
            raise self._error(exc, f"load {self.scorer_model}") from exc

    def load_versions(self, versions: Sequence[str], timeout_s: float = 120.0) -> None:
        """Exactly these scorer versions loaded (explicit model control: the
        repository's config with ``version_policy`` set to them); the others
        are unloaded once these serve."""
        import json

        try:
            config: Any = self._client.get_model_config(self.scorer_model, as_json=True,
                                                        client_timeout=timeout_s)["config"]
            config["version_policy"] = {"specific": {"versions": sorted({int(v) for v in
                                                                        versions})}}
            self._client.load_model(self.scorer_model, config=json.dumps(config),
                                    client_timeout=timeout_s)
        except Exception as exc:
            raise self._error(exc, f"load {self.scorer_model} versions {list(versions)}") \
                from exc

    def probe(self) -> bool:
        return bool(self._client.is_server_ready(client_timeout=2.0)
                    and self._client.is_model_ready(self.embedding_model, client_timeout=2.0)
                    and self._client.is_model_ready(self.scorer_model, client_timeout=2.0))

    def close(self) -> None:
        self._client.close()
