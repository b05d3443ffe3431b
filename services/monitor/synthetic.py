"""Synthetic event streams with known ground truth, for the monitor's tests,
benchmark and demos (real protobuf records produced to a real broker)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlmesh.events.v1 import (
    dead_letter_pb2,
    embedding_written_pb2,
    feature_update_pb2,
    label_pb2,
    prediction_made_pb2,
)
from mlmesh.kafka.config import producer_config
from mlmesh.kafka.producer import MeshProducer

FEATURES = ("amount_sum_5m", "event_count_5m", "login_count_5m")


@dataclass
class Out:
    """One record to produce: key, serialized value, timestamp (ms)."""

    key: str
    value: bytes
    ts_ms: int


def prediction(request_id: str, user_id: str, *, model_version: str = "v1",
               route: str = "primary", latency_ms: float = 10.0, score: float = 0.5,
               features: dict[str, float] | None = None, error: str = "",
               cache_hit: bool = False, ts_ms: int | None = None, cpu_ms: float = 0.0) -> Out:
    ts_ms = ts_ms if ts_ms is not None else int(time.time() * 1000)
    m = prediction_made_pb2.PredictionMade(
        request_id=request_id, user_id=user_id, model_name="risk", model_version=model_version,
        score=score, latency_ms=latency_ms, route=route, cache_hit=cache_hit, error=error,
        feature_age_ms=1000.0, cpu_ms=cpu_ms)
    m.features.update(features or {})
    m.predicted_at.FromMilliseconds(ts_ms)
    return Out(user_id, m.SerializeToString(), ts_ms)


def embedding(doc_id: str, user_id: str, *, doc_to_searchable_ms: float, model_ms: float,
              model_version: str = "minilm-v1", ts_ms: int | None = None) -> Out:
    ts_ms = ts_ms if ts_ms is not None else int(time.time() * 1000)
    m = embedding_written_pb2.EmbeddingWritten(
        doc_id=doc_id, user_id=user_id, chunk_count=2, model_name="all-MiniLM-L6-v2",
        model_version=model_version, doc_to_searchable_ms=doc_to_searchable_ms,
        model_ms=model_ms)
    m.written_at.FromMilliseconds(ts_ms)
    return Out(user_id, m.SerializeToString(), ts_ms)


def feature_update(user_id: str, *, freshness_ms: float, ts_ms: int,
                   view: str = "user_activity_5m") -> Out:
    m = feature_update_pb2.FeatureUpdate(user_id=user_id, feature_view=view)
    m.max_event_time.FromMilliseconds(int(ts_ms - freshness_ms))
    m.window_end.FromMilliseconds(int(ts_ms - freshness_ms / 2))
    m.window_start.FromMilliseconds(int(ts_ms - freshness_ms / 2 - 300_000))
    m.emitted_at.FromMilliseconds(ts_ms)
    m.values["event_count_5m"] = 1.0
    return Out(user_id, m.SerializeToString(), ts_ms)


def label(label_id: str, user_id: str, value: float, ts_ms: int | None = None) -> Out:
    ts_ms = ts_ms if ts_ms is not None else int(time.time() * 1000)
    m = label_pb2.Label(label_id=label_id, user_id=user_id, kind=label_pb2.LABEL_KIND_FRAUD,
                        value=value)
    m.label_time.FromMilliseconds(ts_ms - 1000)
    m.observed_at.FromMilliseconds(ts_ms)
    return Out(user_id, m.SerializeToString(), ts_ms)


def dead_letter(source_topic: str, *, error_class: str, service: str,
                ts_ms: int | None = None) -> Out:
    ts_ms = ts_ms if ts_ms is not None else int(time.time() * 1000)
    m = dead_letter_pb2.DeadLetter(source_topic=source_topic, error_class=error_class,
                                   reason=f"synthetic {error_class}", service=service)
    m.failed_at.FromMilliseconds(ts_ms)
    return Out("dlq", m.SerializeToString(), ts_ms)


def features_for(rng: random.Random, drift: bool = False) -> dict[str, float]:
    shift = 4.0 if drift else 1.0
    return {"amount_sum_5m": rng.lognormvariate(3.0, 0.5) * shift,
            "event_count_5m": float(rng.randint(1, 20)),
            "login_count_5m": float(rng.randint(0, 3))}


def producer(bootstrap: str) -> MeshProducer:
    return MeshProducer(producer_config(bootstrap, "monitor-synthetic", linger_ms=20))


def produce(prod: MeshProducer, topic: str, records: Iterable[Out],
            partitions: Sequence[int] | None = None) -> int:
    n = 0
    for r in records:
        prod.raw.produce(topic, r.value, key=r.key.encode(), timestamp=r.ts_ms)
        n += 1
        if n % 1000 == 0:
            prod.poll(0)
    prod.flush(60)
    return n
