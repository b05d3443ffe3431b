"""Wiring: Kafka ``documents`` -> SinkLoop -> DocumentHandler (PII redaction,
chunking, 32-chunk micro-batches to Triton, Milvus upserts) -> ``embeddings_written``.

Clients can be injected (tests wrap the embedder to record what reaches the
model). SIGTERM: the loop finishes or abandons the current batch (uncommitted:
replayed on restart), then the batcher, producer and clients close.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np
from confluent_kafka import Message
from confluent_kafka.admin import AdminClient

from embedder.batcher import MicroBatcher
from embedder.chunking import Chunker
from embedder.handler import DocumentHandler, HandlerConfig
from embedder.health import HealthServer, Readiness
from embedder.metrics import EmbedderMetrics
from embedder.settings import Settings
from embedder.store import ChunkStore, CollectionNameError, StoreConfig
from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.logging import configure_logging
from mlmesh.common.retry import RetriesExhausted
from mlmesh.common.telemetry import init_telemetry
from mlmesh.embedding import Embedder, MiniLMTokenizer, TritonEmbedder
from mlmesh.kafka.config import consumer_config, producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.sink import Rejected, SinkLoop, SinkStats

log = logging.getLogger(__name__)


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(uri=settings.milvus_uri, collection=settings.collection,
                       index_type=settings.index_type, metric_type=settings.metric_type,
                       partition_key=settings.user_partition_key,
                       consistency_level=settings.consistency_level,
                       timeout_s=settings.milvus_timeout_s, upsert_rows=settings.upsert_rows)


def triton_embedder(settings: Settings, version: str | None = None) -> TritonEmbedder:
    return TritonEmbedder(settings.triton_grpc, model=settings.model_name,
                          version=settings.model_version if version is None else version,
                          timeout_s=settings.triton_timeout_s,
                          max_batch=max(64, settings.batch_size))


class EmbedderService:
    def __init__(self, settings: Settings, stop: StopSignal, *,
                 embedder: Embedder | None = None, store: ChunkStore | None = None,
                 client_id: str = "embedder") -> None:
        self.settings = settings
        self.stop = stop
        self.telemetry = init_telemetry("embedder", 0)  # /metrics is served by HealthServer
        self.metrics = EmbedderMetrics(self.telemetry.meter)
        self.embedder: Embedder = embedder if embedder is not None else triton_embedder(settings)
        self.store = store if store is not None else ChunkStore(store_config(settings))
        tokenizer = MiniLMTokenizer()
        self.chunker = Chunker(tokenizer, settings.chunk_tokens, settings.chunk_overlap,
                               model_limit=tokenizer.max_content_tokens)
        self.batcher = MicroBatcher(self._embed, size=settings.batch_size,
                                    timeout_s=settings.batch_timeout_ms / 1000.0,
                                    observer=self.metrics.observe_batch)
        extra = settings.kafka_extra()
        self.producer = MeshProducer(producer_config(settings.kafka_bootstrap, client_id,
                                                     extra=extra))
        self.handler = DocumentHandler(
            config=HandlerConfig(output_topic=settings.output_topic,
                                 model_name=settings.model_name,
                                 model_version=settings.model_version,
                                 max_text_bytes=settings.max_text_bytes,
                                 embed_timeout_s=max(60.0, settings.triton_timeout_s * 4)),
            chunker=self.chunker, vectorizer=self.batcher, store=self.store,
            producer=self.producer, metrics=self.metrics)
        self.loop = SinkLoop(
            consumer_config=consumer_config(settings.kafka_bootstrap, settings.group_id,
                                            client_id, extra=extra),
            topics=[settings.input_topic], handle_batch=self._handle, service="embedder",
            stop=stop, dlq_producer=self.producer, batch_size=settings.consume_batch,
            poll_timeout=settings.poll_timeout_s, max_backoff=settings.max_backoff_s,
            # every dependency of a batch answers: a batch that still fails holds a
            # record they refuse, which the loop isolates and dead-letters
            probe=lambda: self._kafka_ok() and self._triton_ok() and self.store.ping())
        self._admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **extra})
        self._running = threading.Event()
        self.health: HealthServer | None = None
        if settings.metrics_port:
            readiness = Readiness({"kafka": self._kafka_ok, "triton": self._triton_ok,
                                   "milvus": self.store.ping})
            self.health = HealthServer(settings.http_host, settings.metrics_port, readiness,
                                       alive=self._running.is_set, details=self._details)

    # -- the batch path -------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def _handle(self, msgs: list[Message]) -> list[Rejected]:
        try:
            self.store.ready_or_ensure()
            rejected = self.handler(msgs)
        except Exception:
            self.metrics.retries.add(1)
            self.store.invalidate()  # re-check the collection after the server recovers
            raise
        for r in rejected:
            self.metrics.dead_letters.add(1, {"error_class": r.error_class})
            log.info("dead letter", extra={"error_class": r.error_class, "reason": r.reason,
                                           "record_id": r.record_id})
        return rejected

    # -- probes -----------------------------------------------------------------
    def _kafka_ok(self) -> bool:
        meta = self._admin.list_topics(self.settings.input_topic, timeout=2.0)
        topic = meta.topics.get(self.settings.input_topic)
        return topic is not None and topic.error is None

    def _triton_ok(self) -> bool:
        ready = getattr(self.embedder, "ready", None)
        return bool(ready()) if ready is not None else True

    def _details(self) -> dict[str, object]:
        s = self.loop.stats
        return {"consumed": s.consumed, "dead_lettered": s.dead_lettered, "batches": s.batches,
                "retries": s.retries, "paused": s.paused, "last_error": s.last_error,
                "model_version": self.settings.model_version,
                "triton_batches": dict(sorted(self.batcher.calls.items()))}

    # -- lifecycle --------------------------------------------------------------
    def run(self) -> SinkStats:
        self._running.set()
        if self.health is not None:
            self.health.start()
        try:
            self.store.ensure()
        except CollectionNameError:
            self._running.clear()
            self.loop.consumer.close()  # never subscribed: nothing to commit
            self.close()
            raise
        except Exception as exc:
            log.warning("milvus not ready at start; will retry", extra={"error": repr(exc)})
        log.info("embedder started", extra={"topic": self.settings.input_topic,
                                            "group": self.settings.group_id,
                                            "model_version": self.settings.model_version,
                                            "collection": self.settings.collection})
        try:
            return self.loop.run()
        finally:
            self._running.clear()
            self.close()

    def close(self) -> None:
        self.batcher.close()
        try:
            self.producer.flush(30)
        except Exception as exc:
            log.warning("producer flush at close failed", extra={"error": repr(exc)})
        self.store.close()
        close = getattr(self.embedder, "close", None)
        if close is not None:
            close()
        if self.health is not None:
            self.health.stop()
        self.telemetry.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings()
    configure_logging("embedder", settings.log_level, settings.log_json)
    stop = StopSignal().install()
    service = EmbedderService(settings, stop)
    try:
        stats = service.run()
    except CollectionNameError as exc:
        log.error("embedder cannot start", extra={"error": str(exc)})
        return 2
    except RetriesExhausted as exc:  # a dependency away too long: exit to be restarted
        log.error("embedder gave up on a batch (nothing committed)", extra={"error": str(exc)})
        return 3
    log.info("embedder stopped", extra={"consumed": stats.consumed,
                                        "dead_lettered": stats.dead_lettered,
                                        "retries": stats.retries})
    return 0
