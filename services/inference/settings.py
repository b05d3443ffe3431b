"""The inference service's one Settings class (env prefix ``MLMESH_INFERENCE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mlmesh.common import ports
from mlmesh.common.settings import FrontDoorSettings, field
from mlmesh.embedding.client import DEFAULT_VERSION


class Settings(FrontDoorSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_INFERENCE_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "inference"

    grpc_host: str = field("127.0.0.1", "bind address of the gRPC server")
    grpc_port: int = field(ports.INFERENCE_GRPC, "gRPC port (0 = any free port)")
    metrics_port: int = field(ports.INFERENCE_METRICS, "Prometheus scrape port (0 = none)")
    max_workers: int = field(16, "gRPC worker threads (per process)")
    workers: int = field(1, "processes sharing the gRPC port (SO_REUSEPORT), about one core "
                            "each; needs a fixed grpc_port; all workers' metrics on metrics_port "
                            "(worker i's own on metrics_port + 1 + i); "
                            "caches are per process; rate limits too unless "
                            "MLMESH_RATE_LIMIT_STORAGE is a redis:// URL")
    max_request_bytes: int = field(64 * 1024, "largest accepted request message")
    max_text_chars: int = field(4000, "longest accepted Predict text / Search query")
    max_k: int = field(50, "largest k for retrieval")
    default_k: int = field(5, "k when the request leaves it 0")

    # Dependencies.
    feature_service: str = field("risk_scoring_v1", "Feast feature service read per request")
    milvus_collection: str = field("doc_chunks", "Milvus collection of the user's chunks")
    embedding_model: str = field("minilm_embedding", "Triton embedding model")
    embedding_model_version: str = field(DEFAULT_VERSION, "the embedding model version queries "
                                         "are embedded with and whose chunks are searched "
                                         "(the embedder's MODEL_VERSION)")
    scorer_model: str = field("risk_scorer", "Triton scoring model")
    model_repository: Path | None = field(
        None, "Triton model repository (model cards); default <state>/triton/model_repository")
    default_timeout_s: float = field(2.0, "downstream budget when the caller sets no deadline")
    milvus_timeout_s: float = field(0.5, "cap on one Milvus search")

    # Rollouts.
    rollout_topic: str = field("model-rollout", "the rollout log every replica follows "
                                                "(routing policy per model, one record per change)")
    routing_file: Path | None = field(
        None, "a routing policy file instead of the rollout log (one host only)")
    routing_poll_s: float = field(0.5, "how often the router checks its policy source")
    alerts_topic: str = field("alerts", "monitor alerts; a breach for a version rolls it back")
    alerts_group: str = field("inference-rollback", "consumer group of the alert watcher")
    watch_alerts: bool = field(True, "consume alerts and roll back automatically")
    predictions_topic: str = field("predictions", "where PredictionMade records go")
    labels_topic: str = field("labels", "labels the rollout AUC gate joins with served "
                                        "predictions (empty = no AUC gate)")
    emit_predictions: bool = field(True, "produce PredictionMade per answer")
    predictions_delivery_timeout_s: float = field(
        300.0, "how long an answered prediction's PredictionMade waits for Kafka before it "
               "is counted lost (it is not awaited on the request path): longer than the "
               "cluster's recovery from a broker outage")

    # Protection.
    key_rate: float = field(0.0, "requests/s per API key (0 = unlimited)")
    key_burst: float = field(100.0, "most requests per API key at once (the window is "
                                    "burst / rate seconds)")
    user_rate: float = field(0.0, "requests/s per user_id (0 = unlimited)")
    user_burst: float = field(20.0, "most requests per user_id at once (the window is "
                                    "burst / rate seconds)")

    # Caches.
    cache_size: int = field(10000, "exact Predict cache entries (0 = off)")
    cache_ttl_s: float = field(5.0, "exact Predict cache TTL")
    semantic_cache_size: int = field(5000, "semantic Search cache entries (0 = off)")
    semantic_cache_ttl_s: float = field(30.0, "semantic Search cache TTL")
    semantic_threshold: float = field(0.97, "cosine at or above which a cached search answers")


    def repository_path(self) -> Path:
        return self.model_repository or self.state_dir / "triton" / "model_repository"
