"""Factories for the mesh's components beyond Kafka: Triton, Milvus and the
services. Ports are the documented local defaults; each can be moved with the
same environment variable the service itself reads (one name, two readers:
the service's Settings and the launcher that must probe it)."""

from __future__ import annotations

from mlmesh.localstack.base import Component
from mlmesh.localstack.service import ServiceComponent, grpc_health_probe, http_probe
from mlmesh.localstack.stack import StackContext


def _port(ctx: StackContext, var: str, default: int) -> int:
    return int(ctx.env.get(var, default))


def _hostport(ctx: StackContext, var: str, default: str) -> str:
    return ctx.env.get(var, default)


def triton_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.triton import TritonComponent

    grpc_port = int(_hostport(ctx, "MLMESH_TRITON_GRPC", "127.0.0.1:18001").rsplit(":", 1)[1])
    return TritonComponent(ctx.state_dir, http_port=grpc_port - 1, grpc_port=grpc_port,
                           metrics_port=grpc_port + 1)


def milvus_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.milvus import MilvusComponent

    uri = ctx.env.get("MLMESH_MILVUS_URI", "http://127.0.0.1:19530")
    return MilvusComponent(ctx.state_dir, port=int(uri.rsplit(":", 1)[1]))


def ingest_factory(ctx: StackContext) -> Component:
    grpc_addr = _hostport(ctx, "MLMESH_INGEST_GRPC_ADDRESS", "127.0.0.1:50051")
    http_addr = _hostport(ctx, "MLMESH_INGEST_HTTP_ADDRESS", "127.0.0.1:18080")
    metrics = _port(ctx, "MLMESH_INGEST_METRICS_PORT", 19100)
    return ServiceComponent(
        "ingest", "ingest", ctx.state_dir,
        env=ctx.service_env(MLMESH_INGEST_GRPC_ADDRESS=grpc_addr,
                            MLMESH_INGEST_HTTP_ADDRESS=http_addr,
                            MLMESH_INGEST_METRICS_PORT=str(metrics)),
        health_probe=grpc_health_probe(grpc_addr),
        addresses={"grpc": grpc_addr, "http": f"http://{http_addr}",
                   "metrics": f"http://127.0.0.1:{metrics}/metrics"},
    )


def monitor_factory(ctx: StackContext) -> Component:
    host = ctx.env.get("MLMESH_MONITOR_HTTP_HOST", "127.0.0.1")
    port = _port(ctx, "MLMESH_MONITOR_HTTP_PORT", 18090)
    metrics = _port(ctx, "MLMESH_MONITOR_METRICS_PORT", 19104)
    return ServiceComponent(
        "monitor", "monitor", ctx.state_dir,
        env=ctx.service_env(MLMESH_MONITOR_HTTP_HOST=host, MLMESH_MONITOR_HTTP_PORT=str(port),
                            MLMESH_MONITOR_METRICS_PORT=str(metrics)),
        health_probe=http_probe(f"http://{host}:{port}/healthz"),
        addresses={"dashboard": f"http://{host}:{port}/",
                   "metrics": f"http://127.0.0.1:{metrics}/metrics"},
    )
