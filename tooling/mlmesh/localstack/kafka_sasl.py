"""``MLMESH_STACK_KAFKA_SASL=1``: the local broker also listens SASL_SSL
(SCRAM-SHA-512 over TLS with the local CA of ``mlmesh.devtls``) on
``MLMESH_STACK_KAFKA_SASL_PORT`` (default 19094), and every service of the
stack (the Flink job included) connects through it with the mesh's typed
Kafka security variables. The launcher and the CLI keep the broker's plain
loopback listener (``MLMESH_KAFKA_BOOTSTRAP``) for topics and audits.

The SCRAM user ``mlmesh`` gets a random password, kept in
``<state dir>/kafka-sasl/password`` (mode 0600) and set on the broker through
its admin API once it is up (so an existing log dir needs no re-format)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlmesh.common import ports

if TYPE_CHECKING:
    from mlmesh.localstack.stack import StackContext

MECHANISM = "SCRAM-SHA-512"
USER = "mlmesh"


def enabled(ctx: StackContext) -> bool:
    return ctx.env.get("MLMESH_STACK_KAFKA_SASL", "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class SaslListener:
    port: int
    keystore: Path
    ca: Path
    password: str

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"  # the certificate names localhost


def listener(ctx: StackContext) -> SaslListener:
    from mlmesh.devtls import ensure_dev_tls

    d = ctx.state_dir / "kafka-sasl"
    d.mkdir(parents=True, exist_ok=True)
    server, _client = ensure_dev_tls(d)
    keystore = d / "broker-keystore.pem"  # the key (PKCS#8) and its chain, as Kafka reads PEM
    if not keystore.exists():
        fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(server.key.read_bytes() + server.cert.read_bytes())
    secret = d / "password"
    if not secret.exists():
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    port = int(ctx.env.get("MLMESH_STACK_KAFKA_SASL_PORT", ports.KAFKA_SASL))
    return SaslListener(port, keystore, server.client_ca or server.cert,
                        secret.read_text().strip())


def broker_properties(sl: SaslListener, port: int, controller_port: int) -> dict[str, str]:
    return {
        "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{sl.port},"
                     f"CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_SSL://{sl.bootstrap}",
        "listener.security.protocol.map":
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(sl.keystore),
    }


def add_user(plain_bootstrap: str, sl: SaslListener, timeout: float = 30.0) -> None:
    """Set the SCRAM credential of ``mlmesh`` (idempotent), over the plain listener."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": plain_bootstrap})
    change = UserScramCredentialUpsertion(
        USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), sl.password.encode())
    for fut in admin.alter_user_scram_credentials([change],
                                                  request_timeout=timeout).values():
        fut.result(timeout)


def service_env(sl: SaslListener) -> dict[str, str]:
    """What every service of the stack connects with."""
    return {"MLMESH_KAFKA_BOOTSTRAP": sl.bootstrap,
            "MLMESH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "MLMESH_KAFKA_SASL_MECHANISM": MECHANISM,
            "MLMESH_KAFKA_SASL_USERNAME": USER,
            "MLMESH_KAFKA_SASL_PASSWORD": sl.password,
            "MLMESH_KAFKA_SSL_CA": str(sl.ca)}
