"""Where clients (the CLI, the load generator, tests) find the services.

Env prefix ``MLMESH_CLIENT_`` (e.g. ``MLMESH_CLIENT_INGEST_GRPC``); mesh-wide
``MLMESH_*`` fields (Kafka bootstrap...) come from :class:`MeshSettings`."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from mlmesh.common import ports
from mlmesh.common.settings import MeshSettings, field


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

    def key(self) -> str:
        """The API key to send: ``api_key``, else the local dev key, else ""."""
        from mlmesh.devkey import read_dev_key

        return self.api_key.get_secret_value() or read_dev_key(self.state_dir)

    def metadata(self) -> list[tuple[str, str]]:
        """gRPC metadata carrying the key (none without one)."""
        key = self.key()
        return [("x-api-key", key)] if key else []
