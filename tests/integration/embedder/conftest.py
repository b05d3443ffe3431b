"""Shared set-up for the embedder's integration tests: REAL Kafka, Triton, Milvus.

Each test gets its own topics (``<x>.documents`` + ``.dlq``, ``<x>.embeddings_written``),
its own consumer group and its own Milvus collection, so tests never see each
other's data while sharing the session's servers.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from embedder.app import EmbedderService
from embedder.settings import Settings
from embedder.store import ChunkStore, StoreConfig
from mlmesh.common.lifecycle import StopSignal
from mlmesh.embedding import TritonEmbedder
from mlmesh.events.v1 import document_pb2
from mlmesh.kafka.config import producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.testing.milvus import collection_name
from mlmesh.testing.wait import wait_for


class RecordingEmbedder:
    """The real Triton client, recording every text that crosses the service
    boundary into the model (what Triton receives)."""

    def __init__(self, inner: TritonEmbedder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.texts: list[str] = []
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.texts.extend(texts)
            self.calls.append(len(texts))
        return self.inner.embed(texts)

    def ready(self) -> bool:
        return self.inner.ready()

    def close(self) -> None:
        self.inner.close()


@dataclass
class Env:
    bootstrap: str
    triton_grpc: str
    milvus_uri: str
    topic: str
    out_topic: str
    collection: str
    group: str
    producer: MeshProducer
    running: list[tuple[EmbedderService, threading.Thread]] = field(default_factory=list)

    # helpers, reachable from tests through the fixture
    @staticmethod
    def doc(doc_id: str, user_id: str, text: str, source: str = "test") -> document_pb2.Document:
        return make_doc(doc_id, user_id, text, source)

    @staticmethod
    def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
        wait_for(predicate, timeout, what)

    @staticmethod
    def recorder(inner: TritonEmbedder) -> RecordingEmbedder:
        return RecordingEmbedder(inner)

    @staticmethod
    def count(store: ChunkStore, expr: str = "") -> int:
        return safe_count(store, expr)

    @property
    def dlq_topic(self) -> str:
        return self.topic + ".dlq"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap": self.bootstrap, "milvus_uri": self.milvus_uri,
            "triton_grpc": self.triton_grpc, "input_topic": self.topic,
            "output_topic": self.out_topic, "group_id": self.group,
            "collection": self.collection, "metrics_port": 0, "max_backoff_s": 2.0,
        }
        values.update(overrides)
        return Settings(**values)

    def env_vars(self, **extra: str) -> dict[str, str]:
        """The same configuration as environment variables (for `python -m embedder`)."""
        return {"MLMESH_KAFKA_BOOTSTRAP": self.bootstrap, "MLMESH_MILVUS_URI": self.milvus_uri,
                "MLMESH_TRITON_GRPC": self.triton_grpc, "MLMESH_EMBEDDER_INPUT_TOPIC": self.topic,
                "MLMESH_EMBEDDER_OUTPUT_TOPIC": self.out_topic,
                "MLMESH_EMBEDDER_GROUP_ID": self.group,
                "MLMESH_EMBEDDER_COLLECTION": self.collection,
                "MLMESH_EMBEDDER_METRICS_PORT": "0", **extra}

    def start(self, embedder: Any = None, **overrides: Any) -> EmbedderService:
        svc = EmbedderService(self.settings(**overrides), StopSignal(), embedder=embedder)
        thread = threading.Thread(target=svc.run, name="embedder-test", daemon=True)
        thread.start()
        self.running.append((svc, thread))
        return svc

    def stop_all(self) -> None:
        for svc, thread in self.running:
            svc.stop.set()
            thread.join(60)
        self.running.clear()

    def store(self, **overrides: Any) -> ChunkStore:
        values: dict[str, Any] = {"uri": self.milvus_uri, "collection": self.collection}
        values.update(overrides)
        return ChunkStore(StoreConfig(**values))

    def send(self, docs: Iterable[document_pb2.Document | tuple[str, bytes]]) -> int:
        n = 0
        for d in docs:
            if isinstance(d, tuple):
                self.producer.produce(self.topic, d[1], key=d[0])
            else:
                self.producer.produce(self.topic, d.SerializeToString(), key=d.user_id)
            n += 1
        self.producer.flush(30)
        return n


def make_doc(doc_id: str, user_id: str, text: str, source: str = "test") -> document_pb2.Document:
    ts = Timestamp()
    ts.FromMilliseconds(int(time.time() * 1000))
    return document_pb2.Document(doc_id=doc_id, user_id=user_id, text=text, source=source,
                                 created_at=ts, ingest_time=ts)


def safe_count(store: ChunkStore, expr: str = "") -> int:
    try:
        return store.count(expr)
    except Exception:  # collection not created yet
        return -1


@pytest.fixture
def emb_env(kafka_bootstrap: str, triton_server: Any, milvus_uri: str) -> Iterator[Env]:
    tag = uuid.uuid4().hex[:10]
    topic, out = f"t.emb.{tag}.documents", f"t.emb.{tag}.embeddings_written"
    ensure_topics(kafka_bootstrap, [TopicSpec(topic, 2), TopicSpec(topic + ".dlq", 1),
                                    TopicSpec(out, 1)], timeout=60)
    producer = MeshProducer(producer_config(kafka_bootstrap, f"test-{tag}"))
    env = Env(kafka_bootstrap, triton_server.grpc_url, milvus_uri, topic, out,
              collection_name("doc_chunks_"), f"embedder-{tag}", producer)
    try:
        yield env
    finally:
        env.stop_all()
        store = env.store()
        with contextlib.suppress(Exception):
            store.client.drop_collection(env.collection)
        store.close()
