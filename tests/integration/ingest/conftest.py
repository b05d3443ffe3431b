"""An in-process ingest service on free ports, against the real test broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from ingest.app import IngestApp
from ingest.settings import Settings
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.localstack.base import free_port


@dataclass
class RunningIngest:
    app: IngestApp
    settings: Settings
    stub: pb_grpc.IngestServiceStub
    http_url: str
    topics: dict[str, str]


@pytest.fixture
def ingest_factory(kafka_bootstrap: str, kafka_topic_factory: Callable[..., str],
                   ) -> Iterator[Callable[..., RunningIngest]]:
    started: list[tuple[IngestApp, grpc.Channel]] = []

    def make(partitions: int = 6, **overrides: Any) -> RunningIngest:
        topics = {}
        for kind in ("events", "documents", "labels"):
            name = kafka_topic_factory(partitions=partitions, prefix=f"ingest-{kind}")
            topics[kind] = name
        for name in list(topics.values()):
            # the dead-letter topics beside them (created like the real ones)
            from mlmesh.kafka.topics import TopicSpec, ensure_topics

            ensure_topics(kafka_bootstrap, [TopicSpec(name + ".dlq", 1, 1, {})], timeout=60)
        settings = Settings(
            kafka_bootstrap=kafka_bootstrap, grpc_address=f"127.0.0.1:{free_port()}",
            http_address=f"127.0.0.1:{free_port()}", metrics_port=0,
            events_topic=topics["events"], documents_topic=topics["documents"],
            labels_topic=topics["labels"], **overrides,
        )
        app = IngestApp.build(settings)
        app.start()
        channel = grpc.insecure_channel(settings.grpc_address)
        started.append((app, channel))
        return RunningIngest(app, settings, pb_grpc.IngestServiceStub(channel),
                             f"http://{settings.http_address}", topics)

    yield make
    for app, channel in started:
        channel.close()
        app.stop()
