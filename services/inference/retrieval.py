"""The user's own chunks from Milvus: a COSINE search FILTERED to one user_id
and the embedding model_version (plus optional source / created_after)."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

OUTPUT_FIELDS = ["chunk_id", "doc_id", "text"]


class RetrievalUnavailable(RuntimeError):
    """Milvus did not answer (down, timed out, collection missing)."""


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    similarity: float
    text: str


def quote(value: str) -> str:
    """A Milvus boolean-expression string literal holding exactly ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def user_filter(user_id: str, model_version: str, source: str = "",
                created_after_ms: int = 0) -> str:
    parts = [f"user_id == {quote(user_id)}", f"model_version == {quote(model_version)}"]
    if source:
        parts.append(f"source == {quote(source)}")
    if created_after_ms > 0:
        parts.append(f"created_at_ms >= {int(created_after_ms)}")
    return " and ".join(parts)


class MilvusRetriever:
    def __init__(self, uri: str, collection: str, model_version: str,
                 max_timeout_s: float = 0.5) -> None:
        from pymilvus import MilvusClient

        self.uri = uri
        self.collection = collection
        self.model_version = model_version
        self.max_timeout_s = max_timeout_s
        self._factory = MilvusClient
        # Milvus down at start: the service starts anyway and answers degraded
        # (retrieval_unavailable); the health probe connects once it is back
        self._client: Any = None
        self._broken = True
        with contextlib.suppress(Exception):
            self._client, self._broken = self._connect(5.0), False

    def _connect(self, timeout: float) -> Any:
        # A private alias: pymilvus shares one connection per URI otherwise, and
        # closing the old client would close the new one too.
        return self._factory(uri=self.uri, timeout=timeout,
                             alias=f"inference-{uuid.uuid4().hex[:12]}")

    def search(self, vector: np.ndarray, user_id: str, k: int, timeout_s: float,
               source: str = "", created_after_ms: int = 0) -> list[Chunk]:
        expr = user_filter(user_id, self.model_version, source, created_after_ms)
        if self._client is None:
            raise RetrievalUnavailable(f"milvus {self.uri}: not connected yet")
        try:
            hits: Any = self._client.search(
                self.collection, data=[np.asarray(vector, dtype=np.float32).tolist()],
                filter=expr, limit=k, output_fields=OUTPUT_FIELDS,
                search_params={"metric_type": "COSINE"},
                timeout=max(0.01, min(timeout_s, self.max_timeout_s)),
                # pymilvus 2.5 bounds its retry loop by `timeout` only when it is an
                # int; with a float it retries 75 times (minutes). No retries here.
                retry_times=0)
        except Exception as exc:  # any Milvus failure degrades retrieval
            self._broken = True
            raise RetrievalUnavailable(f"milvus {self.uri}: {type(exc).__name__}: "
                                       f"{str(exc)[:200]}") from exc
        out = []
        for hit in hits[0] if hits else []:
            entity = hit.get("entity", {})
            out.append(Chunk(str(entity.get("chunk_id", hit.get("id", ""))),
                             str(entity.get("doc_id", "")), float(hit.get("distance", 0.0)),
                             str(entity.get("text", ""))))
        return out

    def probe(self) -> bool:
        """Health probe (every few seconds, off the request path). After a failure
        the client is rebuilt: a restarted server is otherwise found only after
        gRPC's reconnect backoff (observed > 60 s)."""
        if self._broken:
            fresh = self._connect(2.0)
            old, self._client, self._broken = self._client, fresh, False
            if old is not None:
                with contextlib.suppress(Exception):  # a half-dead channel: nothing to keep
                    old.close()
        try:
            self._client.list_collections(timeout=2.0, retry_times=0)
        except Exception:
            self._broken = True
            raise
        return True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
