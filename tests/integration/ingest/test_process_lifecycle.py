"""`python -m ingest` as a real process: gRPC health turns SERVING once Kafka
answers, reflection lists the service, SIGTERM drains and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.localstack.base import free_port
from mlmesh.testing.builders import event


def test_ingest_process_serves_and_stops_on_sigterm(kafka_bootstrap, kafka_topic_factory,
                                                    tmp_path):
    events = kafka_topic_factory(partitions=2, prefix="proc-events")
    port, http_port = free_port(), free_port()
    env = dict(os.environ, MLMESH_KAFKA_BOOTSTRAP=kafka_bootstrap,
               MLMESH_INGEST_GRPC_ADDRESS=f"127.0.0.1:{port}",
               MLMESH_INGEST_HTTP_ADDRESS=f"127.0.0.1:{http_port}",
               MLMESH_INGEST_METRICS_PORT="0", MLMESH_INGEST_EVENTS_TOPIC=events)
    log_path = tmp_path / "ingest.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ingest"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.3)
        assert status == health_pb2.HealthCheckResponse.SERVING, log_path.read_text()

        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(refl.ServerReflectionInfo(iter([
            reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in answer.list_services_response.service}
        assert "mlmesh.ingest.v1.IngestService" in names and "grpc.health.v1.Health" in names

        resp = pb_grpc.IngestServiceStub(channel).Publish(
            pb.PublishRequest(events=[event("p", 1)]), timeout=10)
        assert resp.accepted == 1
        channel.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        text = log_path.read_text()
        assert '"msg": "ingest stopped"' in text
    finally:
        if proc.poll() is None:
            proc.kill()
