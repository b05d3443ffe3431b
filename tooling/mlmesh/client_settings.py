"""Where clients (the CLI, the load generator, tests) find the services.

Env prefix ``MLMESH_CLIENT_`` (e.g. ``MLMESH_CLIENT_INGEST_GRPC``); mesh-wide
``MLMESH_*`` fields (Kafka bootstrap...) come from :class:`MeshSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from mlmesh.common import ports
from mlmesh.common.settings import MeshSettings, field
from mlmesh.tls import ClientTls, open_channel


class ClientSettings(MeshSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_CLIENT_", extra="ignore",
                                      populate_by_name=True)

    ingest_grpc: str = field(f"127.0.0.1:{ports.INGEST_GRPC}", "ingest gRPC address")
    ingest_http: str = field(f"http://127.0.0.1:{ports.INGEST_HTTP}", "ingest HTTP base URL")
    inference_grpc: str = field(f"127.0.0.1:{ports.INFERENCE_GRPC}", "inference gRPC address")
    monitor_url: str = field(f"http://127.0.0.1:{ports.MONITOR_HTTP}",
                             "monitor dashboard/API base URL")
    api_key: SecretStr = field(SecretStr(""), "API key sent to ingest and inference (empty: "
                                              "the local dev key of `MLMESH_AUTH=1 mlmesh up`, "
                                              "if there is one)")

    tls_ca: Path | None = field(None, "CA of the services' TLS certificates (empty: the local "
                                      "CA of `mlmesh up --tls` while it is on, else plaintext)")
    tls_cert: Path | None = field(None, "this client's certificate, for mutual TLS")
    tls_key: Path | None = field(None, "this client's certificate key, for mutual TLS")

    def local_state_dir(self) -> Path:
        """The state dir of the local stack (``mlmesh up``'s: ``$MLMESH_STATE_DIR``,
        else ``<repo>/.mlmesh`` wherever the command runs)."""
        from mlmesh.localstack.paths import default_state_dir

        return self.state_dir if "state_dir" in self.model_fields_set else default_state_dir()

    def client_tls(self) -> ClientTls | None:
        """TLS towards ingest and inference: the configured CA, else the local
        one of ``mlmesh up --tls`` while it is on, else None (plaintext)."""
        from mlmesh.devtls import dev_client_tls

        if self.tls_ca is not None:
            return ClientTls(self.tls_ca, self.tls_cert, self.tls_key)
        return dev_client_tls(self.local_state_dir())

    def channel(self, address: str, options: list[tuple[str, Any]] | None = None
                ) -> grpc.Channel:
        """A gRPC channel to a mesh service, TLS when :meth:`client_tls` says so."""
        return open_channel(address, self.client_tls(), options)

    def key(self) -> str:
        """The API key to send: ``api_key``, else the local dev key, else ""."""
        from mlmesh.devkey import read_dev_key

        return self.api_key.get_secret_value() or read_dev_key(self.local_state_dir())

    def metadata(self) -> list[tuple[str, str]]:
        """gRPC metadata carrying the key (none without one)."""
        key = self.key()
        return [("x-api-key", key)] if key else []
