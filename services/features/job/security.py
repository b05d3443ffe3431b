"""The mesh's Kafka security settings for the Flink job (from
:class:`features.job.settings.JobSettings`: the same variables as every service,
``MLMESH_KAFKA_SECURITY_PROTOCOL`` ... ``MLMESH_KAFKA_SSL_CA``) as Flink Kafka
connector properties (its Java client,
shaded: the login modules carry the connector's package prefix) and as
librdkafka properties for the job's own admin calls (checkpoint guard)."""

from __future__ import annotations

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
