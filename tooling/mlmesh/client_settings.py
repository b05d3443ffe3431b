"""Where clients (the CLI, the load generator, tests) find the services.

Env prefix ``MLMESH_CLIENT_`` (e.g. ``MLMESH_CLIENT_INGEST_GRPC``); mesh-wide
``MLMESH_*`` fields (Kafka bootstrap...) come from :class:`MeshSettings`."""

from __future__ import annotations

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
    api_key: str = field("", "API key sent to the inference service")
