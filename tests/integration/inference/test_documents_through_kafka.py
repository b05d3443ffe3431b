"""Documents produced to Kafka -> the real embedder service (Triton + Milvus)
-> Predict/Search of that user retrieve the new chunks; another user does not.
(Features come from Feast push here: the streaming features job is tested by
its own suite.)"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from inference.app import Service
from mlmesh.common.lifecycle import StopSignal
from mlmesh.events.v1 import document_pb2
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.kafka.topics import TopicSpec, ensure_topics


def test_document_on_kafka_is_retrieved_by_its_user_only(inference_env: Any, chunks: Any,
                                                         service: Service) -> None:
    embedder_app = pytest.importorskip("embedder.app")
    from embedder.settings import Settings as EmbedderSettings

    suffix = uuid.uuid4().hex[:8]
    docs_topic, written = f"t.documents.{suffix}", f"t.embeddings_written.{suffix}"
    ensure_topics(inference_env.kafka, [TopicSpec(docs_topic, 3), TopicSpec(written, 3),
                                        TopicSpec(docs_topic + ".dlq", 1)])
    stop = StopSignal()
    emb = embedder_app.EmbedderService(EmbedderSettings(
        kafka_bootstrap=inference_env.kafka, milvus_uri=inference_env.milvus_uri,
        triton_grpc=inference_env.triton.grpc_url, input_topic=docs_topic,
        output_topic=written, group_id=f"embedder-{suffix}", metrics_port=0), stop)
    runner = threading.Thread(target=emb.run, daemon=True)
    runner.start()
    owner, other = f"k-{suffix}", f"o-{suffix}"
    doc = document_pb2.Document(doc_id=f"d-{suffix}", user_id=owner, source="support_ticket",
                                text="The parcel with my espresso machine never arrived.")
    doc.created_at.GetCurrentTime()
    producer = Producer({"bootstrap.servers": inference_env.kafka})
    producer.produce(docs_topic, doc.SerializeToString(), key=owner)
    assert producer.flush(10) == 0
    channel, stub = inference_env.stub(service)
    try:
        with channel:
            deadline = time.monotonic() + 90
            while True:
                resp = stub.Predict(pb.PredictRequest(user_id=owner,
                                                      text="espresso machine delivery"),
                                    timeout=10)
                if resp.chunks or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert [c.doc_id for c in resp.chunks] == [doc.doc_id]
            assert resp.chunks[0].similarity > 0.4 and "espresso" in resp.chunks[0].text
            search = stub.Search(pb.SearchRequest(user_id=other, query="espresso machine"),
                                 timeout=10)
            assert all(c.doc_id != doc.doc_id for c in search.chunks)
    finally:
        stop.set()
        runner.join(30)
