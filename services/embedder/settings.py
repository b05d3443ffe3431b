"""Embedder settings (env prefix ``MLMESH_EMBEDDER_``; mesh-wide ones under ``MLMESH_``:
MLMESH_KAFKA_BOOTSTRAP, MLMESH_MILVUS_URI, MLMESH_TRITON_GRPC, ...)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mlmesh.common import ports
from mlmesh.common.settings import MeshSettings, field
from mlmesh.embedding.client import DEFAULT_VERSION


class Settings(MeshSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_EMBEDDER_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "embedder"

    # Kafka
    input_topic: str = field("documents", "topic of Document records")
    output_topic: str = field("embeddings_written", "topic of EmbeddingWritten events")
    group_id: str = field("embedder", "consumer group (a new one replays from the start)")
    consume_batch: int = field(256, "most records handled per Kafka batch")
    poll_timeout_s: float = field(0.05, "longest wait to fill a Kafka batch")
    max_backoff_s: float = field(10.0, "longest pause between retries while a store is down")
    # Model
    model_name: str = field("minilm_embedding", "Triton model name")
    model_version: str = field(DEFAULT_VERSION, "model version written AND searched "
                               "(MLMESH_EMBEDDER_MODEL_VERSION); also the Triton version: "
                               "2 = INT8 (CPU default), 1 = fp32 (or FP16 on the GPU repository)")
    triton_timeout_s: float = field(30.0, "deadline of one Triton call")
    batch_size: int = field(32, "chunks per Triton call (exactly, when enough wait)")
    batch_timeout_ms: float = field(20.0, "a short batch goes out after this wait")
    # Text
    max_text_bytes: int = field(64 * 1024, "largest Document.text (UTF-8 bytes)")
    chunk_tokens: int = field(200, "word-piece tokens per chunk (<= 254)")
    chunk_overlap: int = field(32, "tokens shared by consecutive chunks")
    # Milvus
    collection: str = field("doc_chunks", "Milvus collection")
    index_type: str = field("FLAT", "FLAT | IVF_FLAT (milvus-lite) | HNSW | AUTOINDEX")
    metric_type: str = field("COSINE", "COSINE | IP (vectors are L2-normalised)")
    user_partition_key: bool = field(False, "make user_id the partition key (real Milvus only: "
                                            "milvus-lite 2.4 cannot filter on it, milvus#43163)")
    consistency_level: str = field("Strong", "collection default: fresh rows searchable at once")
    milvus_timeout_s: float = field(15.0, "deadline of one Milvus call")
    upsert_rows: int = field(1000, "rows per Milvus upsert request")
    # HTTP: /metrics, /healthz, /readyz
    metrics_port: int = field(ports.EMBEDDER_METRICS, "metrics + health HTTP port (0 = off)")
    http_host: str = field("127.0.0.1", "bind address of the HTTP endpoint")
