"""What ingest acknowledged survives a SIGKILL of the broker and a restart:
nothing acknowledged is lost, nothing is duplicated."""

from __future__ import annotations

from collections import Counter

from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.testing.builders import event
from mlmesh.testing.kafka import consume_all


def test_acknowledged_events_survive_broker_sigkill(kafka_broker, tmp_path):
    import grpc

    from ingest.app import IngestApp
    from ingest.settings import Settings
    from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
    from mlmesh.localstack.base import free_port

    boot = kafka_broker.bootstrap
    topics = ["ev", "docs", "labels"]
    ensure_topics(boot, [TopicSpec(t, 3) for t in topics] +
                  [TopicSpec(t + ".dlq", 1) for t in topics], timeout=60)
    settings = Settings(kafka_bootstrap=boot, grpc_address=f"127.0.0.1:{free_port()}",
                        http_address=f"127.0.0.1:{free_port()}", metrics_port=0,
                        events_topic="ev", documents_topic="docs", labels_topic="labels",
                        ack_timeout_s=60)
    app = IngestApp.build(settings)
    app.start()
    channel = grpc.insecure_channel(settings.grpc_address)
    stub = pb_grpc.IngestServiceStub(channel)
    acked: list[str] = []
    try:
        for round_ in range(2):
            batch = [event(f"user-{i % 11}", i) for i in range(300)]
            resp = stub.Publish(pb.PublishRequest(events=batch), timeout=90)
            acked += [r.id for r in resp.results if r.status == pb.PUBLISH_STATUS_ACCEPTED]
            assert resp.accepted == 300, [r.error for r in resp.results][:3]
            if round_ == 0:
                kafka_broker.kill()
                kafka_broker.restart()
    finally:
        channel.close()
        app.stop()

    ids = Counter(user_event_pb2.UserEvent.FromString(v).event_id
                  for _k, v in consume_all(boot, "ev", timeout=60))
    assert set(acked) <= set(ids), f"{len(set(acked) - set(ids))} acknowledged events lost"
    dupes = {k: n for k, n in ids.items() if n > 1}
    assert not dupes, f"duplicated: {list(dupes)[:5]}"
    assert len(ids) == 600
