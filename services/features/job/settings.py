"""The features job's one Settings class (env prefix ``MLMESH_FEATURES_``;
mesh-wide ones, Kafka's address and security among them, under ``MLMESH_``):
the only reader of the environment in the job. Command-line flags override
it (``python -m features.job --help``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic_settings import SettingsConfigDict

from features.catalog import DEFAULT_SESSION_GAP_S
from features.job.security import KafkaSecurity
from mlmesh.common.settings import MeshSettings


class JobSettings(MeshSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_FEATURES_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "features-job"

    events_topic: str = "user_events"
    documents_topic: str = "documents"
    output_topic: str = "feature_updates"
    group_id: str = "features-job"
    startup_mode: str = "earliest-offset"
    txn_prefix: str = "features-job"
    txn_timeout_ms: int = 600_000
    checkpoint_dir: str = ".mlmesh/features/checkpoints"
    tmp_dir: str = ""
    checkpoint_interval_ms: int = -1
    out_of_orderness_ms: int = 5000
    mode: str = "tiles"
    emit_interval_ms: int = 100
    buffer_timeout_ms: int = -1
    idle_timeout_ms: int = -1
    session_gap_s: int = DEFAULT_SESSION_GAP_S
    dedup_ttl_h: int = 26
    parallelism: int = 1
    rest_port: int = 0
    restore: str = ""
    connector_jar: str = ""
    functions_jar: str = ""
    no_documents: bool = False
    bounded: bool = False
    flink_conf: str = ""  # 'k=v;k=v'
    unaligned_checkpoints: str = "on"
    ignore_kafka_identity: bool = False
    bind_all: bool = False  # MLMESH_BIND_ALL: the REST API beyond loopback
    # A Flink session cluster in containers (features.job.cluster): this
    # container's part, "jobmanager" or "taskmanager"; empty: the mini-cluster.
    cluster_role: Literal["", "jobmanager", "taskmanager"] = ""
    jobmanager_host: str = "features-job"
    jobmanager_rpc_port: int = 6123
    taskmanager_rpc_port: int = 6122
    taskmanager_slots: int = 2

    def connector_security(self) -> KafkaSecurity:
        return KafkaSecurity(self.kafka_security_protocol, self.kafka_sasl_mechanism,
                             self.kafka_sasl_username,
                             self.kafka_sasl_password.get_secret_value(),
                             str(self.kafka_ssl_ca) if self.kafka_ssl_ca else "")
