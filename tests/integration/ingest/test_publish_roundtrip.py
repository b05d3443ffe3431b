"""Accepted events are in Kafka, keyed by user_id, byte-for-byte what was sent
(plus ingest_time), with their partition/offset reported to the caller."""

from __future__ import annotations

from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event
from mlmesh.testing.kafka import consume_all


def test_published_events_land_in_kafka_keyed_by_user(ingest_factory, kafka_bootstrap):
    ing = ingest_factory()
    sent = [event(f"user-{i % 7}", i, amount=float(i)) for i in range(50)]
    resp = ing.stub.Publish(pb.PublishRequest(events=sent), timeout=30)

    assert resp.accepted == 50 and resp.rejected == 0
    assert [r.id for r in resp.results] == [e.event_id for e in sent]
    assert all(r.status == pb.PUBLISH_STATUS_ACCEPTED for r in resp.results)

    records = consume_all(kafka_bootstrap, ing.topics["events"])
    got = {}
    for key, value in records:
        ev = user_event_pb2.UserEvent.FromString(value)
        assert key == ev.user_id.encode()
        assert ev.ingest_time.seconds > 0
        got[ev.event_id] = ev
    assert set(got) == {e.event_id for e in sent}
    for e in sent:
        g = got[e.event_id]
        assert (g.user_id, g.amount, g.action, g.attributes["seq"]) == (
            e.user_id, e.amount, e.action, e.attributes["seq"])
    # the reported coordinates are the real ones
    by_id = {r.id: (r.partition, r.offset) for r in resp.results}
    assert len(set(by_id.values())) == 50


def test_documents_and_labels_are_published_too(ingest_factory, kafka_bootstrap):
    from mlmesh.events.v1 import document_pb2, label_pb2
    from mlmesh.workload import Workload, WorkloadConfig

    ing = ingest_factory(partitions=2)
    records = list(Workload(WorkloadConfig(users=5, events=200, doc_ratio=0.2)).records())
    docs = [r.msg for r in records if r.kind == "document"]
    labels = [r.msg for r in records if r.kind == "label"]
    assert docs and labels
    r1 = ing.stub.PublishDocuments(pb.PublishDocumentsRequest(documents=docs), timeout=30)
    r2 = ing.stub.PublishLabels(pb.PublishLabelsRequest(labels=labels), timeout=30)
    assert (r1.accepted, r1.rejected) == (len(docs), 0), [r.error for r in r1.results][:3]
    assert (r2.accepted, r2.rejected) == (len(labels), 0), [r.error for r in r2.results][:3]
    got_docs = {document_pb2.Document.FromString(v).doc_id
                for _k, v in consume_all(kafka_bootstrap, ing.topics["documents"])}
    got_labels = {label_pb2.Label.FromString(v).label_id
                  for _k, v in consume_all(kafka_bootstrap, ing.topics["labels"])}
    assert got_docs == {d.doc_id for d in docs}
    assert got_labels == {lb.label_id for lb in labels}
