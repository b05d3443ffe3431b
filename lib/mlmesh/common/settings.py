"""Pydantic settings: the only place that reads the environment.

Every service defines ONE ``Settings`` class that subclasses :class:`MeshSettings`
with its own ``env_prefix`` (``MLMESH_INGEST_`` ...). Fields declared here are the
mesh-wide ones; they read un-prefixed ``MLMESH_*`` variables (so one variable
configures every service) and may be overridden per service with the prefixed
name (``MLMESH_INGEST_KAFKA_BOOTSTRAP``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlmesh.common import ports
from mlmesh.tls import ServerTls

# Mesh-wide fields: field name -> global env var.
GLOBAL_FIELDS: dict[str, str] = {
    "kafka_bootstrap": "MLMESH_KAFKA_BOOTSTRAP",
    "kafka_replication_factor": "MLMESH_KAFKA_REPLICATION_FACTOR",
    "state_dir": "MLMESH_STATE_DIR",
    "log_level": "MLMESH_LOG_LEVEL",
    "log_json": "MLMESH_LOG_JSON",
    "milvus_uri": "MLMESH_MILVUS_URI",
    "triton_grpc": "MLMESH_TRITON_GRPC",
    "feast_repo": "MLMESH_FEAST_REPO",
    "feast_online": "MLMESH_FEAST_ONLINE",
    "redis_url": "MLMESH_REDIS_URL",
    "kafka_security": "MLMESH_KAFKA_SECURITY",
    "kafka_security_protocol": "MLMESH_KAFKA_SECURITY_PROTOCOL",
    "kafka_sasl_mechanism": "MLMESH_KAFKA_SASL_MECHANISM",
    "kafka_sasl_username": "MLMESH_KAFKA_SASL_USERNAME",
    "kafka_sasl_password": "MLMESH_KAFKA_SASL_PASSWORD",
    "kafka_ssl_ca": "MLMESH_KAFKA_SSL_CA",
    "mlflow_uri": "MLMESH_MLFLOW_URI",
    "auth": "MLMESH_AUTH",
    "keys_topic": "MLMESH_KEYS_TOPIC",
    "tls_cert": "MLMESH_TLS_CERT",
    "tls_key": "MLMESH_TLS_KEY",
    "tls_client_ca": "MLMESH_TLS_CLIENT_CA",
    "rate_limit_storage": "MLMESH_RATE_LIMIT_STORAGE",
    "bind_all": "MLMESH_BIND_ALL",
}


class MeshSettings(BaseSettings):
    """Base of every service's ``Settings``."""

    model_config = SettingsConfigDict(env_prefix="MLMESH_", extra="ignore",
                                      populate_by_name=True)

    # The service's own name (telemetry resource, logs, transactional ids).
    service_name: ClassVar[str] = "mlmesh"

    kafka_bootstrap: str = f"127.0.0.1:{ports.KAFKA}"
    # Replicas of the topics a service creates itself (the monitor's table
    # changelogs; topic-init's floor): 3 on a cluster whose min.insync.replicas
    # is 2, or every write to a topic of one replica is refused.
    kafka_replication_factor: int = 1
    state_dir: Path = Path(".mlmesh")
    log_level: str = "INFO"
    log_json: bool = True
    milvus_uri: str = f"http://127.0.0.1:{ports.MILVUS}"
    triton_grpc: str = f"127.0.0.1:{ports.TRITON_GRPC}"
    # None: the mesh's own feature definitions (the features package, built in
    # code from state_dir / feast_online / redis_url); a path: a Feast repo of
    # your own, opened as it is
    feast_repo: Path | None = None
    feast_online: str = "sqlite"
    redis_url: str = f"redis://127.0.0.1:{ports.REDIS}/0"
    # The MLflow tracking server and model registry (runs, model versions).
    mlflow_uri: str = f"http://127.0.0.1:{ports.MLFLOW}"
    # API keys (mlmesh.auth): on, every gRPC/HTTP call needs a key from the key
    # log and acts only for the users of the key's tenant; off, anyone may call.
    auth: bool = False
    keys_topic: str = "api-keys"
    # How every Kafka client connects (mlmesh.kafka.security): the protocol, SASL
    # mechanism and credentials, and the CA that signed the brokers' certificates.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = \
        "PLAINTEXT"
    kafka_sasl_mechanism: Literal["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_ca: Path | None = None
    # Further librdkafka properties for every confluent-kafka client, "k=v,k=v"
    # (tuning; the typed fields above win for what they cover).
    kafka_security: SecretStr = SecretStr("")
    # Prometheus scrape port of this service's metrics (0 = disabled).
    metrics_port: int = 0

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        prefix = str(cls.model_config.get("env_prefix", "MLMESH_"))
        changed = False
        for name, env in GLOBAL_FIELDS.items():
            info: FieldInfo | None = cls.model_fields.get(name)
            if info is None:
                continue
            choices = [f"{prefix}{name}".upper(), env] if prefix != "MLMESH_" else [env]
            info.validation_alias = AliasChoices(*choices, name)
            changed = True
        if changed:
            cls.model_rebuild(force=True)

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> MeshSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_mechanism and self.kafka_sasl_username
                and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"kafka_security_protocol {self.kafka_security_protocol} needs "
                             "kafka_sasl_mechanism, kafka_sasl_username and "
                             "kafka_sasl_password")
        if self.kafka_ssl_ca is not None and not self.kafka_ssl_ca.is_file():
            raise ValueError(f"kafka_ssl_ca {self.kafka_ssl_ca} does not exist")
        return self

    def kafka_extra(self) -> dict[str, str]:
        """librdkafka properties of every confluent-kafka client: the typed
        security settings over ``kafka_security``'s pass-through ones."""
        out: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in
                                  self.kafka_security.get_secret_value().split(","))):
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
        if self.kafka_security_protocol != "PLAINTEXT":
            out["security.protocol"] = self.kafka_security_protocol
        if self.kafka_security_protocol.startswith("SASL_"):
            out.update({"sasl.mechanism": self.kafka_sasl_mechanism,
                        "sasl.username": self.kafka_sasl_username,
                        "sasl.password": self.kafka_sasl_password.get_secret_value()})
        if self.kafka_ssl_ca is not None:
            out["ssl.ca.location"] = str(self.kafka_ssl_ca)
        return out

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"


class FrontDoorSettings(MeshSettings):
    """Base of the settings of a service that serves callers (ingest, inference)."""

    # TLS of the gRPC/HTTP front doors (mlmesh.tls): a PEM certificate and its
    # key; with a client CA, mutual TLS (a client needs a certificate it signed).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # Where rate-limit counters live (mlmesh.ratelimit): memory:// (per process)
    # or redis://[:password@]host:port/db (shared by every replica and worker).
    rate_limit_storage: SecretStr = SecretStr("memory://")

    def server_tls(self) -> ServerTls | None:
        """The front doors' TLS (None: plaintext); a half-given pair is an error."""
        return ServerTls.of(self.tls_cert, self.tls_key, self.tls_client_ca)


def field(default: Any, description: str) -> Any:
    """Shorthand for a documented settings field."""
    return Field(default, description=description)
