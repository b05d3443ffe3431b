"""Kafka security settings (#28) against a real broker with a SASL_SSL listener
(SCRAM-SHA-512 over TLS, a local CA): a confluent-kafka service (ingest) and
the faust monitor work through it with the typed settings
(MLMESH_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME,
_SASL_PASSWORD, _SSL_CA); a wrong password is a clear error; the password
never shows in settings output, logs or errors. (The Flink job:
tests/integration/features/test_job_sasl_ssl.py.)"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from ingest.app import IngestApp
from ingest.settings import Settings as IngestSettings
from mlmesh.events.v1 import prediction_made_pb2, user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.localstack.base import free_port
from mlmesh.testing.kafka import consume_all
from mlmesh.testing.monitor import MonitorProcess, mesh_topics
from mlmesh.testing.secure_kafka import SecureKafka


def _typed(sk: SecureKafka, password: str | None = None) -> dict[str, Any]:
    return {"kafka_bootstrap": sk.bootstrap, "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": sk.username,
            "kafka_sasl_password": password or sk.password, "kafka_ssl_ca": sk.ca}


def test_ingest_publishes_over_sasl_ssl_and_the_password_stays_hidden(
        secure_kafka: SecureKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    import grpc

    caplog.set_level(logging.DEBUG)
    sk = secure_kafka
    topic = f"t.sec.events.{os.getpid()}"
    ensure_topics(sk.plain_bootstrap, [TopicSpec(topic, 2), TopicSpec(topic + ".dlq", 1)])
    settings = IngestSettings(**_typed(sk), grpc_address=f"127.0.0.1:{free_port()}",
                              http_address=f"127.0.0.1:{free_port()}", metrics_port=0,
                              events_topic=topic, documents_topic=topic, labels_topic=topic)
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert sk.password not in shown
    app = IngestApp.build(settings)
    app.start()
    try:
        ev = user_event_pb2.UserEvent(event_id="s1", user_id="sec-u",
                                      action=user_event_pb2.ACTION_VIEW)
        ev.event_time.GetCurrentTime()
        with grpc.insecure_channel(settings.grpc_address) as channel:
            resp = pb_grpc.IngestServiceStub(channel).Publish(pb.PublishRequest(events=[ev]),
                                                              timeout=30)
        assert resp.accepted == 1
    finally:
        app.stop()
    got = [user_event_pb2.UserEvent.FromString(v).event_id
           for _k, v in consume_all(sk.plain_bootstrap, topic)]
    assert got == ["s1"]

    wrong = IngestSettings(**_typed(sk, password="not-the-password"))
    bad = Producer({"bootstrap.servers": sk.bootstrap, **wrong.kafka_extra(),
                    "message.timeout.ms": 8000})
    errors: list[str] = []
    bad.produce(topic, b"x", on_delivery=lambda err, _m: errors.append(str(err)))
    bad.flush(15)
    assert errors and ("Authentication" in errors[0] or "authentication" in errors[0]
                       or "timed out" in errors[0]), errors
    with pytest.raises(ValueError) as incomplete:  # SASL without its credentials
        IngestSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_password=sk.password)
    assert sk.password not in str(incomplete.value)
    out, err = capfd.readouterr()
    logged = "\n".join(str(vars(r)) for r in caplog.records)
    for text in (out, err, logged):
        assert sk.password not in text


def test_the_faust_monitor_counts_over_sasl_ssl(secure_kafka: SecureKafka,
                                               tmp_path: Path) -> None:
    sk = secure_kafka
    mon = MonitorProcess(sk.bootstrap, tmp_path / "monitor", env={
        k: v for k, v in sk.env().items() if k != "MLMESH_KAFKA_BOOTSTRAP"})
    mesh_topics(sk.plain_bootstrap, mon.prefix)
    mon.start(timeout=120)
    try:
        p = Producer({"bootstrap.servers": sk.plain_bootstrap})
        for i in range(20):
            rec = prediction_made_pb2.PredictionMade(
                request_id=f"r{i}", user_id=f"u{i % 4}", model_name="risk_scorer",
                model_version="1", score=0.5, latency_ms=3.0, route="primary")
            rec.predicted_at.GetCurrentTime()
            p.produce(mon.prefix + "predictions", rec.SerializeToString(), key=rec.user_id)
        assert p.flush(10) == 0
        mon.wait_for(lambda s: s.get("processed", {}).get("predictions", 0) >= 20,
                     timeout=90, what="20 predictions counted")
        time.sleep(0.5)
        assert sk.password not in mon.log_tail(200_000)
    finally:
        mon.stop()
