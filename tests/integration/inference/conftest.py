"""Real servers for the inference tests: Triton (embedding + two risk_scorer
versions), Milvus (doc_chunks), Kafka (predictions/alerts topics), a Feast repo
built from the shared feature catalog (sqlite online, file offline), and the
service itself in-process on a free port. Tests reach the helpers through the
``inference_env`` fixture (--import-mode=importlib: no helper modules)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from inference.app import Service, build
from inference.contract import FEATURE_NAMES
from inference.settings import Settings
from inference.training.model import to_onnx
from inference.training.registry import publish
from mlmesh.embedding.client import DEFAULT_VERSION
from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from mlmesh.kafka.topics import TopicSpec, ensure_topics


def scorer_onnx(flip: bool) -> bytes:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1 if flip else 0)
    x = rng.uniform(0, 50, size=(400, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] > 25).astype(int)
    return to_onnx(LogisticRegression(max_iter=500).fit(x, 1 - y if flip else y), x.shape[1])


@dataclass
class Env:
    triton: Any
    milvus_uri: str
    kafka: str
    feast_repo: Path
    store: Any
    predictions: str
    alerts: str
    tmp: Path

    def write_chunks(self, store: Any, user_id: str, texts: list[str], source: str = "chat",
                     model_version: str = DEFAULT_VERSION) -> list[str]:
        return write_chunks(self, store, user_id, texts, source, model_version)

    def scorer_onnx(self, flip: bool) -> bytes:
        return scorer_onnx(flip)

    def stub(self, svc: Service) -> tuple[grpc.Channel, pb_grpc.InferenceServiceStub]:
        return stub_for(svc)

    def settings(self, **overrides: Any) -> Settings:
        base: dict[str, Any] = dict(
            grpc_port=0, metrics_port=0, feast_repo=self.feast_repo,
            milvus_uri=self.milvus_uri, triton_grpc=self.triton.grpc_url,
            kafka_bootstrap=self.kafka, state_dir=self.tmp / "state",
            predictions_topic=self.predictions, alerts_topic=self.alerts,
            routing_file=self.tmp / f"routing-{uuid.uuid4().hex[:6]}.yaml",
            routing_poll_s=0.1, cache_ttl_s=0.0, semantic_cache_size=0)
        base.update(overrides)
        return Settings(**base)


def write_chunks(env: Env, store: Any, user_id: str, texts: list[str],
                 source: str = "chat", model_version: str = DEFAULT_VERSION) -> list[str]:
    from mlmesh.embedding import TritonEmbedder

    emb = TritonEmbedder(env.triton.grpc_url, version=model_version)
    try:
        vecs = emb.embed(texts)
    finally:
        emb.close()
    now = int(time.time() * 1000)
    doc = f"doc-{uuid.uuid4().hex[:8]}"
    rows = [{"chunk_id": f"{doc}:{i}@{model_version}", "user_id": user_id, "doc_id": doc,
             "chunk_index": i, "text": t, "source": source, "model_name": "minilm_embedding",
             "model_version": model_version, "text_hash": str(hash(t)), "created_at_ms": now,
             "embedded_at_ms": now, "vector": vecs[i].tolist()} for i, t in enumerate(texts)]
    store.upsert(rows)
    return [r["chunk_id"] for r in rows]



def stub_for(svc: Service) -> tuple[grpc.Channel, pb_grpc.InferenceServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{svc.port}")
    return channel, pb_grpc.InferenceServiceStub(channel)


@pytest.fixture(scope="session")
def inference_env(triton_server: Any, milvus_uri: str, kafka_bootstrap: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Env:
    from mlmesh.workload.feast_repo import make_feast_repo

    tmp = tmp_path_factory.mktemp("inference")
    comp = triton_server.component
    for v in (1, 2):
        if not (comp.model_repository / "risk_scorer" / str(v) / "model.onnx").exists():
            publish(comp.model_repository, scorer_onnx(flip=v == 2),
                    {"note": "integration-test scorer"}, version=v)
    comp.load_model("risk_scorer")
    suffix = uuid.uuid4().hex[:8]
    predictions, alerts = f"t.predictions.{suffix}", f"t.alerts.{suffix}"
    ensure_topics(kafka_bootstrap, [TopicSpec(predictions, 3), TopicSpec(alerts, 1)])
    store = make_feast_repo(tmp / "feast")
    return Env(triton_server, milvus_uri, kafka_bootstrap, tmp / "feast", store, predictions,
               alerts, tmp)


@pytest.fixture(scope="session")
def chunks(inference_env: Env) -> Any:
    """The embedder's ChunkStore on the session's Milvus (doc_chunks schema)."""
    from pymilvus import MilvusClient

    from embedder.store import ChunkStore, StoreConfig

    # A private connection alias: pymilvus shares one connection per URI, and a
    # service closing its client (the embedder test) would close ours too.
    client = MilvusClient(uri=inference_env.milvus_uri, alias=f"itest-{uuid.uuid4().hex[:8]}")
    store = ChunkStore(StoreConfig(uri=inference_env.milvus_uri), client=client)
    store.ensure()
    return store


@pytest.fixture
def service(inference_env: Env) -> Iterator[Service]:
    svc = build(inference_env.settings()).start()
    try:
        yield svc
    finally:
        svc.stop(0)
