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

MECHANISM = "SCRAM-SHA-512"


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
    broker = KafkaComponent(
        state, port=port, controller_port=controller, name="kafka-secure",
        extra_properties={
            "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{sasl_port},"
                         f"CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},"
                                    f"SASL_SSL://localhost:{sasl_port}",
            "listener.security.protocol.map":
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
        },
        format_args=("--add-scram", f"{MECHANISM}=[name={user},password={password}]"))
    broker.start(timeout=180)
    try:
        yield SecureKafka(f"localhost:{sasl_port}", broker.bootstrap, server.client_ca or
                          server.cert, user, password)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A broker with a SASL_SSL (SCRAM-SHA-512) listener, for the session."""
    yield from secure_broker(tmp_path_factory.mktemp("kafka-secure"))
