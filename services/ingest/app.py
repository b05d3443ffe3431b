"""Wiring of the ingest service and its lifecycle."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from opentelemetry import metrics

from ingest.backpressure import LagGate, LagMeter
from ingest.core import IngestCore, default_kinds
from ingest.grpc_api import SERVICE, IngestServicer
from ingest.http_api import HttpServer, make_app
from ingest.publisher import Publisher
from ingest.settings import Settings
from ingest.validation import Limits
from mlmesh.auth import open_authorizer
from mlmesh.auth.keylog import KeyLog
from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.logging import configure_logging
from mlmesh.common.telemetry import init_worker_telemetry
from mlmesh.common.workers import serve_processes
from mlmesh.grpcx.server import GrpcServer
from mlmesh.kafka.config import producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.ratelimit import open_limiter

log = logging.getLogger(__name__)


@dataclass
class IngestApp:
    settings: Settings
    producer: MeshProducer
    publisher: Publisher
    gate: LagGate
    grpc: GrpcServer
    http: HttpServer
    _poller_stop: threading.Event
    _poller: threading.Thread
    _meter: LagMeter
    keys: KeyLog | None = None

    @classmethod
    def build(cls, settings: Settings) -> IngestApp:
        s = settings
        extra = s.kafka_extra()
        producer = MeshProducer(producer_config(s.kafka_bootstrap, "ingest", extra=extra))
        limiter = open_limiter(s.user_rate, s.user_burst, s.rate_limit_storage.get_secret_value(),
                               "mlmesh:ingest-user")
        publisher = Publisher(producer, "ingest", limiter, s.ack_timeout_s)
        topics = [s.events_topic, s.documents_topic, s.labels_topic]
        groups = [g.strip() for g in s.lag_groups.split(",") if g.strip()] or None
        meter = LagMeter(s.kafka_bootstrap, extra, topics, groups)
        admin = meter.admin
        gate = LagGate(meter, s.lag_threshold, s.lag_release_ratio, s.lag_interval_s)
        limits = Limits(max_text_bytes=s.max_text_bytes, max_future_skew_s=s.max_future_skew_s,
                        max_event_age_s=s.max_event_age_s)
        log.info("user events validated by %s", "the C scan, then the rules" if limits.event_scan
                 else "the rules alone (mlmesh._eventscan not built: slower, same verdicts)")
        denied = metrics.get_meter("mlmesh.ingest").create_counter(
            "ingest_auth_refused", description="calls refused: no or an invalid API key, or "
                                               "users outside the key's scope")
        authorizer, keys = open_authorizer(s, lambda why: denied.add(1, {"reason": why}))
        items = metrics.get_meter("mlmesh.ingest").create_counter(
            "ingest_items", description="items of Publish calls by kind: accepted (written "
                                        "to the topic) or not (dead-lettered, throttled)")

        def counted(kind: str, accepted: int, refused: int) -> None:
            items.add(accepted, {"kind": kind, "outcome": "accepted"})
            if refused:
                items.add(refused, {"kind": kind, "outcome": "not_accepted"})

        core = IngestCore(publisher, default_kinds(*topics), limits, s.max_batch,
                          lambda: gate.refusing, s.retry_after_s, authorizer, counted)

        def kafka_up() -> bool:
            md = admin.list_topics(timeout=2)
            return s.events_topic in md.topics

        servicer = IngestServicer(core)
        shared = s.workers > 1
        grpc_server = GrpcServer(name="ingest", address=s.grpc_address, service_names=[SERVICE],
                                 register=servicer.register, dependencies={"kafka": kafka_up},
                                 max_message_bytes=s.max_request_bytes, reuse_port=shared,
                                 tls=s.server_tls())
        http = HttpServer(s.http_address, make_app(
            core, lambda: bool(grpc_server.dependency_state.get("kafka")), s.max_request_bytes),
            reuse_port=shared, tls=s.server_tls())
        stop = threading.Event()
        poller = threading.Thread(target=cls._poll_loop, args=(producer, stop),
                                  name="ingest-delivery", daemon=True)
        return cls(s, producer, publisher, gate, grpc_server, http, stop, poller, meter,
                   keys)

    @staticmethod
    def _poll_loop(producer: MeshProducer, stop: threading.Event) -> None:
        while not stop.is_set():
            producer.poll(0.05)

    def start(self) -> None:
        self._poller.start()
        self.gate.start()
        self.grpc.start()
        self.http.start()
        log.info("ingest ready", extra={"grpc": self.grpc.address, "http_port": self.http.port})

    def stop(self) -> None:
        """Stop taking requests, let in-flight ones finish, flush every record."""
        self.grpc.stop(grace=5)
        self.http.stop()
        if self.gate.stop():
            self._meter.close()
        else:  # a request still in flight: closing its client under it could hang
            log.warning("lag measurement still running: its Kafka clients close at exit")
        if self.keys is not None:
            self.keys.close()
        try:
            self.producer.flush(30)
        finally:
            self._poller_stop.set()
            self._poller.join(5)
        log.info("ingest stopped", extra=self.publisher.counts)


def _serve(s: Settings, worker: int) -> int:
    configure_logging("ingest", s.log_level, s.log_json)
    # each worker its own endpoint; worker 0 of several merges them on metrics_port
    init_worker_telemetry("ingest", s.metrics_port, worker, s.workers)
    stop = StopSignal().install()
    app = IngestApp.build(s)
    app.start()
    stop.wait()
    app.stop()
    return 0


def main(settings: Settings | None = None) -> int:
    """Serve in this process, plus ``workers - 1`` child processes sharing the
    ports (Python gRPC is bound to one core per process; mlmesh.common.workers)."""
    s = settings or Settings()
    return serve_processes(s, s.workers, _serve, "ingest")
