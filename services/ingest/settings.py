"""Ingest settings (env prefix ``MLMESH_INGEST_``; mesh-wide ones under ``MLMESH_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mlmesh.common import ports
from mlmesh.common.settings import FrontDoorSettings, field


class Settings(FrontDoorSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_INGEST_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "ingest"

    grpc_address: str = field(f"127.0.0.1:{ports.INGEST_GRPC}", "gRPC listen address")
    http_address: str = field(f"127.0.0.1:{ports.INGEST_HTTP}", "HTTP listen address (host:port)")
    metrics_port: int = field(ports.INGEST_METRICS, "Prometheus scrape port (0 = off)")
    workers: int = field(1, "processes sharing the ports (SO_REUSEPORT); one core each; "
                            "all workers' metrics on metrics_port (worker i's own on "
                            "metrics_port + 1 + i)")
    events_topic: str = field("user_events", "topic for UserEvent")
    documents_topic: str = field("documents", "topic for Document")
    labels_topic: str = field("labels", "topic for Label")
    max_batch: int = field(10_000, "largest batch one request may carry")
    max_request_bytes: int = field(32 * 1024 * 1024, "largest request body")
    max_text_bytes: int = field(64 * 1024, "largest Document.text in UTF-8 bytes")
    max_future_skew_s: float = field(300.0, "how far in the future event_time may be")
    max_event_age_s: float = field(7 * 24 * 3600.0, "how old event_time may be")
    user_rate: float = field(1000.0, "per-user events/s (0 = unlimited)")
    user_burst: float = field(5000.0, "per-user burst")
    lag_threshold: int = field(1_000_000, "downstream consumer lag that triggers refusal")
    lag_release_ratio: float = field(0.8, "refusal ends below threshold * ratio")
    lag_interval_s: float = field(2.0, "how often lag is measured")
    lag_groups: str = field("", "consumer groups to watch (comma list; empty = all on the topics)")
    ack_timeout_s: float = field(30.0, "longest wait for broker acks in one request")
    retry_after_s: float = field(1.0, "retry hint when throttled by lag")
