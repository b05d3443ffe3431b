"""A local Kafka broker with a SASL_SSL listener (SCRAM-SHA-512 over TLS, a
local CA): what the Kafka security settings are tested against (#28). The
broker also keeps a PLAINTEXT listener for its own inter-broker traffic and for
test set-up (topics); every client under test uses the SASL_SSL one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlmesh.devtls import ensure_dev_tls
from mlmesh.localstack.base import free_port
from mlmesh.localstack.kafka import KafkaComponent
from mlmesh.localstack.kafka_sasl import MECHANISM, SaslListener, broker_properties


@dataclass(frozen=True)
class SecureKafka:
    bootstrap: str        # SASL_SSL
    plain_bootstrap: str  # PLAINTEXT, for set-up only
    ca: Path
    username: str
    password: str

    def env(self) -> dict[str, str]:
        """The mesh-wide variables a service needs to reach this broker."""
        return {"MLMESH_KAFKA_BOOTSTRAP": self.bootstrap,
                "MLMESH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "MLMESH_KAFKA_SASL_MECHANISM": MECHANISM,
                "MLMESH_KAFKA_SASL_USERNAME": self.username,
                "MLMESH_KAFKA_SASL_PASSWORD": self.password,
                "MLMESH_KAFKA_SSL_CA": str(self.ca)}


def secure_broker(state: Path) -> Iterator[SecureKafka]:
    server, _client = ensure_dev_tls(state)
    keystore = state / "tls" / "broker-keystore.pem"  # the key (PKCS#8) and its chain
    keystore.write_bytes(server.key.read_bytes() + server.cert.read_bytes())
    keystore.chmod(0o600)
    port, sasl_port, controller = free_port(), free_port(), free_port()
    user, password = "mlmesh-test", secrets.token_urlsafe(18)
    listener = SaslListener(sasl_port, keystore, server.client_ca or server.cert, password)
    broker = KafkaComponent(
        state, port=port, controller_port=controller, name="kafka-secure",
        extra_properties=broker_properties(listener, port, controller),
        format_args=("--add-scram", f"{MECHANISM}=[name={user},password={password}]"))
    broker.start(timeout=180)
    try:
        yield SecureKafka(listener.bootstrap, broker.bootstrap, listener.ca, user, password)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A broker with a SASL_SSL (SCRAM-SHA-512) listener, for the session."""
    yield from secure_broker(tmp_path_factory.mktemp("kafka-secure"))
