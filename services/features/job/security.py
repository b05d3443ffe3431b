"""The mesh's Kafka security settings for the Flink job: the same variables as
every service (``MLMESH_KAFKA_SECURITY_PROTOCOL``, ``MLMESH_KAFKA_SASL_MECHANISM``,
``MLMESH_KAFKA_SASL_USERNAME``, ``MLMESH_KAFKA_SASL_PASSWORD``,
``MLMESH_KAFKA_SSL_CA``) as Flink Kafka connector properties (its Java client,
shaded: the login modules carry the connector's package prefix) and as
librdkafka properties for the job's own admin calls (checkpoint guard)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

_SHADED = "org.apache.flink.kafka.shaded.org.apache.kafka.common.security"
LOGIN_MODULES = {"PLAIN": f"{_SHADED}.plain.PlainLoginModule",
                 "SCRAM-SHA-256": f"{_SHADED}.scram.ScramLoginModule",
                 "SCRAM-SHA-512": f"{_SHADED}.scram.ScramLoginModule"}


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    ca: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        sec = cls(protocol=env.get("MLMESH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") or "PLAINTEXT",
                  mechanism=env.get("MLMESH_KAFKA_SASL_MECHANISM", ""),
                  username=env.get("MLMESH_KAFKA_SASL_USERNAME", ""),
                  password=env.get("MLMESH_KAFKA_SASL_PASSWORD", ""),
                  ca=env.get("MLMESH_KAFKA_SSL_CA", ""))
        if sec.protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError(f"MLMESH_KAFKA_SECURITY_PROTOCOL {sec.protocol!r} is not one of "
                             "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
        if sec.sasl and (sec.mechanism not in LOGIN_MODULES or not sec.username
                         or not sec.password):
            raise ValueError(f"{sec.protocol} needs MLMESH_KAFKA_SASL_MECHANISM (one of "
                             f"{', '.join(LOGIN_MODULES)}), MLMESH_KAFKA_SASL_USERNAME and "
                             "MLMESH_KAFKA_SASL_PASSWORD")
        return sec

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def connector_options(self) -> tuple[tuple[str, str], ...]:
        """``properties.*`` options of the Flink Kafka connector's tables."""
        if self.protocol == "PLAINTEXT":
            return ()
        opts = [("properties.security.protocol", self.protocol)]
        if self.sasl:
            quote = self.password.replace("\\", "\\\\").replace('"', '\\"')
            opts += [("properties.sasl.mechanism", self.mechanism),
                     ("properties.sasl.jaas.config",
                      f'{LOGIN_MODULES[self.mechanism]} required username="{self.username}" '
                      f'password="{quote}";')]
        if self.ca:
            opts += [("properties.ssl.truststore.type", "PEM"),
                     ("properties.ssl.truststore.location", self.ca)]
        return tuple(opts)

    def librdkafka(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.protocol != "PLAINTEXT":
            out["security.protocol"] = self.protocol
        if self.sasl:
            out.update({"sasl.mechanism": self.mechanism, "sasl.username": self.username,
                        "sasl.password": self.password})
        if self.ca:
            out["ssl.ca.location"] = self.ca
        return out
