"""One Kafka batch of documents -> redacted chunks -> vectors -> Milvus -> events.

Called by :class:`mlmesh.kafka.sink.SinkLoop`, which commits the batch's offsets
only after this returns. Bad records come back as ``Rejected`` (-> DLQ); any
failure of Triton, Milvus or the event producer raises, and the loop pauses and
retries the whole batch: every write here is idempotent (upsert by
deterministic chunk id, delete of stale ids, and the monitor tolerates a
duplicate EmbeddingWritten), so a retry or a crash replay changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from confluent_kafka import Message
from google.protobuf.timestamp_pb2 import Timestamp

from embedder.chunking import Chunk, Chunker
from embedder.metrics import EmbedderMetrics
from embedder.pii import redact
from embedder.store import ChunkStore, chunk_id
from embedder.validation import Invalid, parse_document
from mlmesh.events.v1 import document_pb2, embedding_written_pb2
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.sink import Rejected

log = logging.getLogger(__name__)
_TRACE_HEADERS = ("traceparent", "tracestate")


class Vectorizer(Protocol):
    def embed(self, texts: Sequence[str], timeout: float | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class HandlerConfig:
    output_topic: str
    model_name: str
    model_version: str
    max_text_bytes: int
    embed_timeout_s: float = 120.0


@dataclass
class Prepared:
    msg: Message
    doc: document_pb2.Document
    chunks: list[Chunk]
    redactions: int
    created_ms: int


def _ts_ms(ts: Timestamp) -> int:
    return int(ts.seconds * 1000 + ts.nanos // 1_000_000)


def created_ms(doc: document_pb2.Document, msg: Message) -> int:
    """When the document was written: created_at, else ingest_time, else the
    Kafka record timestamp."""
    for ts in (doc.created_at, doc.ingest_time):
        if ts.seconds or ts.nanos:
            return _ts_ms(ts)
    kind, value = msg.timestamp()
    return int(value) if kind and value > 0 else int(time.time() * 1000)


class DocumentHandler:
    def __init__(self, *, config: HandlerConfig, chunker: Chunker, vectorizer: Vectorizer,
                 store: ChunkStore, producer: MeshProducer,
                 metrics: EmbedderMetrics | None = None) -> None:
        self.config = config
        self.chunker = chunker
        self.vectorizer = vectorizer
        self.store = store
        self.producer = producer
        self.metrics = metrics

    def __call__(self, msgs: list[Message]) -> list[Rejected]:
        rejected: list[Rejected] = []
        latest: dict[str, Prepared] = {}
        for msg in msgs:
            try:
                item = self._prepare(msg)
            except Invalid as exc:
                rejected.append(Rejected(msg, exc.error_class, exc.reason, exc.record_id))
                continue
            latest.pop(item.doc.doc_id, None)  # a later write of the same doc wins
            latest[item.doc.doc_id] = item
        if latest:
            self._write(list(latest.values()))
        return rejected

    def _prepare(self, msg: Message) -> Prepared:
        doc = parse_document(msg.value(), self.config.max_text_bytes)
        red = redact(doc.text)
        chunks = self.chunker.split(red.text)
        if not chunks:
            raise Invalid("validation", "text: no tokens after redaction", doc.doc_id)
        return Prepared(msg, doc, chunks, red.total, created_ms(doc, msg))

    def _write(self, items: list[Prepared]) -> None:
        texts = [c.text for it in items for c in it.chunks]
        started = time.perf_counter()
        vectors = self.vectorizer.embed(texts, self.config.embed_timeout_s)
        model_s = time.perf_counter() - started
        version = self.config.model_version
        existing = self.store.existing([it.doc.doc_id for it in items], version)
        now_ms = int(time.time() * 1000)
        rows: list[dict[str, Any]] = []
        stale: list[str] = []
        pos = 0
        for it in items:
            for c in it.chunks:
                rows.append(self._row(it, c, vectors[pos], now_ms))
                pos += 1
            n = len(it.chunks)
            stale.extend(chunk_id(it.doc.doc_id, i, version)
                         for i in sorted(existing.get(it.doc.doc_id, set())) if i >= n)
        self.store.upsert(rows)
        self.store.delete(stale)
        written_ms = int(time.time() * 1000)
        self._emit(items, written_ms, model_s * 1e3 / max(1, len(texts)))
        if self.metrics is not None:
            m = self.metrics
            m.documents.add(len(items))
            m.chunks.add(len(rows))
            m.rate.add(len(items))
            if stale:
                m.stale_deleted.add(len(stale))
            m.redactions.add(sum(it.redactions for it in items))
            for it in items:
                m.searchable_ms.record(max(0, written_ms - it.created_ms))
        log.debug("batch written", extra={"docs": len(items), "chunks": len(rows),
                                          "stale": len(stale), "model_ms": round(model_s * 1e3)})

    def _row(self, it: Prepared, c: Chunk, vector: np.ndarray, now_ms: int) -> dict[str, Any]:
        doc = it.doc
        return {
            "chunk_id": chunk_id(doc.doc_id, c.index, self.config.model_version),
            "user_id": doc.user_id, "doc_id": doc.doc_id, "chunk_index": c.index,
            "text": c.text, "source": doc.source[:128],
            "model_name": self.config.model_name, "model_version": self.config.model_version,
            "text_hash": hashlib.sha256(c.text.encode("utf-8")).hexdigest(),
            "created_at_ms": it.created_ms, "embedded_at_ms": now_ms,
            "vector": vector.astype(np.float32).tolist(),
        }

    def _emit(self, items: list[Prepared], written_ms: int, ms_per_chunk: float) -> None:
        """One EmbeddingWritten per document, flushed before the offsets are
        committed (so a committed batch always has its events)."""
        ts = Timestamp()
        ts.FromMilliseconds(written_ms)
        for it in items:
            event = embedding_written_pb2.EmbeddingWritten(
                doc_id=it.doc.doc_id, user_id=it.doc.user_id, chunk_count=len(it.chunks),
                model_name=self.config.model_name, model_version=self.config.model_version,
                doc_to_searchable_ms=float(max(0, written_ms - it.created_ms)),
                model_ms=ms_per_chunk * len(it.chunks), written_at=ts,
                redactions=it.redactions)
            headers = _trace_headers(it.msg)
            self.producer.produce(self.config.output_topic, event.SerializeToString(),
                                  key=it.doc.user_id, headers=headers or None)
        self.producer.flush(30)


def _trace_headers(msg: Message) -> list[tuple[str, bytes]]:
    raw: list[tuple[str, Any]] = list(msg.headers() or [])  # type: ignore[arg-type]
    return [(str(k), v if isinstance(v, bytes) else str(v).encode())
            for k, v in raw if k in _TRACE_HEADERS and v is not None]
