"""Factories for the mesh's components beyond Kafka: Triton, Milvus and the
services. Ports are the documented local defaults; each can be moved with the
same environment variable the service itself reads (one name, two readers:
the service's Settings and the launcher that must probe it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from mlmesh.common import ports
from mlmesh.localstack.base import Component
from mlmesh.localstack.replicas import moved, replica_name
from mlmesh.localstack.service import (
    ServiceComponent,
    grpc_dependencies,
    grpc_health_probe,
    http_probe,
)
from mlmesh.localstack.stack import StackContext


def _port(ctx: StackContext, var: str, default: int) -> int:
    return int(ctx.env.get(var, default))


def _hostport(ctx: StackContext, var: str, default: str) -> str:
    return ctx.env.get(var, default)


def redis_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.redis import RedisComponent

    url = urlsplit(ctx.env.get("MLMESH_REDIS_URL", f"redis://127.0.0.1:{ports.REDIS}/0"))
    return RedisComponent(ctx.state_dir, port=url.port or ports.REDIS)


def mlflow_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.mlflow import MlflowComponent

    uri = urlsplit(ctx.env.get("MLMESH_MLFLOW_URI", f"http://127.0.0.1:{ports.MLFLOW}"))
    return MlflowComponent(ctx.state_dir, port=uri.port or ports.MLFLOW)


def triton_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.triton import TritonComponent

    triton = _hostport(ctx, "MLMESH_TRITON_GRPC", f"127.0.0.1:{ports.TRITON_GRPC}")
    grpc_port = int(triton.rsplit(":", 1)[1])
    return TritonComponent(ctx.state_dir, http_port=grpc_port - 1, grpc_port=grpc_port,
                           metrics_port=grpc_port + 1)


def milvus_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.milvus import MilvusComponent

    uri = ctx.env.get("MLMESH_MILVUS_URI", f"http://127.0.0.1:{ports.MILVUS}")
    return MilvusComponent(ctx.state_dir, port=int(uri.rsplit(":", 1)[1]))


def _replicated(ctx: StackContext, name: str,
                build: Callable[[int, int], ServiceComponent]) -> Component:
    """``build(n, port_shift)`` for replica n; several as one :class:`ReplicaSet`."""
    if ctx.replicas == 1:
        return build(1, 0)
    from mlmesh.localstack.replicas import ReplicaSet

    return ReplicaSet(name, ctx.replicas, lambda n: build(n, (n - 1) * ctx.replica_port_step))


def ingest_factory(ctx: StackContext) -> Component:
    return _replicated(ctx, "ingest", lambda n, shift: _ingest(ctx, n, shift))


def _ingest(ctx: StackContext, n: int, shift: int) -> ServiceComponent:
    grpc_addr = moved(_hostport(ctx, "MLMESH_INGEST_GRPC_ADDRESS",
                                f"127.0.0.1:{ports.INGEST_GRPC}"), shift)
    http_addr = moved(_hostport(ctx, "MLMESH_INGEST_HTTP_ADDRESS",
                                f"127.0.0.1:{ports.INGEST_HTTP}"), shift)
    metrics = _port(ctx, "MLMESH_INGEST_METRICS_PORT", ports.INGEST_METRICS) + shift
    return ServiceComponent(
        replica_name("ingest", n), "ingest", ctx.state_dir,
        env=ctx.service_env(MLMESH_INGEST_GRPC_ADDRESS=grpc_addr,
                            MLMESH_INGEST_HTTP_ADDRESS=http_addr,
                            MLMESH_INGEST_METRICS_PORT=str(metrics)),
        health_probe=grpc_health_probe(grpc_addr),
        addresses={"grpc": grpc_addr, "http": f"http://{http_addr}",
                   "metrics": f"http://127.0.0.1:{metrics}/metrics"},
    )


def monitor_factory(ctx: StackContext) -> Component:
    """One active replica; on the cluster profile the second stands by until
    it holds the lease (monitor.lease), its dashboard on the first's port + 100."""
    return _replicated(ctx, "monitor", lambda n, shift: _monitor(ctx, n, shift))


def _monitor(ctx: StackContext, n: int, shift: int) -> ServiceComponent:
    host = ctx.env.get("MLMESH_MONITOR_HTTP_HOST", "127.0.0.1")
    port = _port(ctx, "MLMESH_MONITOR_HTTP_PORT", ports.MONITOR_HTTP) + shift
    metrics = _port(ctx, "MLMESH_MONITOR_METRICS_PORT", ports.MONITOR_METRICS) + shift
    triton = _hostport(ctx, "MLMESH_TRITON_GRPC", f"127.0.0.1:{ports.TRITON_GRPC}")
    triton_http = ctx.env.get("MLMESH_MONITOR_TRITON_URL",  # the launcher's layout
                              f"http://127.0.0.1:{int(triton.rsplit(':', 1)[1]) - 1}")
    return ServiceComponent(
        replica_name("monitor", n), "monitor", ctx.state_dir,
        env=ctx.service_env(MLMESH_MONITOR_HTTP_HOST=host, MLMESH_MONITOR_HTTP_PORT=str(port),
                            MLMESH_MONITOR_METRICS_PORT=str(metrics),
                            MLMESH_MONITOR_TRITON_URL=triton_http),
        health_probe=http_probe(f"http://{host}:{port}/healthz"),
        addresses={"dashboard": f"http://{host}:{port}/",
                   "metrics": f"http://127.0.0.1:{metrics}/metrics"},
    )


def retrainer_factory(ctx: StackContext) -> Component:
    """``mlmesh retrain --watch`` (off by default: ``MLMESH_STACK_RETRAINER=1``):
    a drift episode trains, registers and rolls out one candidate from shadow."""
    triton = _hostport(ctx, "MLMESH_TRITON_GRPC", f"127.0.0.1:{ports.TRITON_GRPC}")
    http = f"http://127.0.0.1:{int(triton.rsplit(':', 1)[1]) - 1}"  # the launcher's layout
    return ServiceComponent("retrainer", "mlmesh.cli.main", ctx.state_dir,
                            env=ctx.service_env(), settle_seconds=3.0,
                            args=["retrain", "--watch", "--triton-http", http])


def features_job_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack.flink import FlinkJobComponent

    env = ctx.service_env()  # Kafka's address and security as the services have them
    rest = _port(ctx, "MLMESH_FEATURES_REST_PORT", ports.FLINK_REST)
    if ctx.profile == "cluster":  # a JobManager, two TaskManagers, the job at parallelism 2
        from mlmesh.localstack.flink_cluster import FlinkSessionComponent

        return FlinkSessionComponent(
            ctx.state_dir, env["MLMESH_KAFKA_BOOTSTRAP"], rest_port=rest,
            rpc_port=_port(ctx, "MLMESH_FEATURES_RPC_PORT", ports.FLINK_RPC),
            env={k: v for k, v in env.items() if k.startswith("MLMESH_KAFKA_")})
    return FlinkJobComponent(ctx.state_dir, env["MLMESH_KAFKA_BOOTSTRAP"],
                             rest_port=rest,
                             env={k: v for k, v in env.items() if k.startswith("MLMESH_KAFKA_")})


def feature_writer_factory(ctx: StackContext) -> Component:
    return _replicated(ctx, "feature-writer", lambda n, shift: _feature_writer(ctx, n, shift))


def _feature_writer(ctx: StackContext, n: int, shift: int) -> ServiceComponent:
    metrics = _port(ctx, "MLMESH_FEATURES_METRICS_PORT", ports.FEATURES_METRICS) + shift
    return ServiceComponent(
        replica_name("feature-writer", n), "features.writer", ctx.state_dir,
        env=ctx.service_env(MLMESH_FEATURES_METRICS_PORT=str(metrics)),
        # the metrics endpoint answers only once Feast is open and the registry applied
        health_probe=http_probe(f"http://127.0.0.1:{metrics}/metrics"),
        addresses={"metrics": f"http://127.0.0.1:{metrics}/metrics"},
    )


def load_scoring_model(component: Component, ctx: StackContext) -> None:
    """Inference serves only with a scoring model on Triton. Published versions
    (kept across restarts in the state dir) are loaded; when none exists yet, a
    first model is trained from a generated workload (seconds) and published."""
    import subprocess
    import sys

    from mlmesh.localstack.paths import repo_root
    from mlmesh.localstack.triton import TritonComponent

    assert isinstance(component, TritonComponent)
    versions = component.model_repository / "risk_scorer"
    if versions.exists() and any(v.name.isdigit() and (v / "model.onnx").exists()
                                 for v in versions.iterdir()):
        component.load_model("risk_scorer")
    else:
        from mlmesh.localstack.stack import entries

        registry = [] if entries(["mlflow"])[0].enabled(ctx) else ["--no-registry"]
        subprocess.run([sys.executable, "-m", "mlmesh.cli.main", "train", "--workload", "400",
                        "--repository", str(component.model_repository),
                        "--triton-http", component.http_url, *registry], check=True,
                       cwd=repo_root(), env=ctx.service_env(), stdout=subprocess.DEVNULL)
    seed_rollout(component.model_repository, ctx)


def seed_rollout(repository: Path, ctx: StackContext) -> None:
    """An empty rollout log gets the newest published version as its primary
    (action ``bootstrap``), so every replica, `mlmesh rollout` and the rollout
    controller start from a named primary; a log that has one is left alone."""
    from inference.control import PolicyLog
    from inference.training.registry import versions

    found = versions(repository)
    if not found:
        return
    topic = ctx.env.get("MLMESH_INFERENCE_ROLLOUT_TOPIC", "model-rollout")
    log = PolicyLog(ctx.kafka_bootstrap, topic, "risk_scorer").start(30)
    try:
        log.update(lambda p: None if p.primary else
                   p.changed("bootstrap", primary=str(found[-1])))
    finally:
        log.close()


def inference_factory(ctx: StackContext) -> Component:
    return _replicated(ctx, "inference", lambda n, shift: _inference(ctx, n, shift))


def _inference(ctx: StackContext, n: int, shift: int) -> ServiceComponent:
    host = ctx.env.get("MLMESH_INFERENCE_GRPC_HOST", "127.0.0.1")
    port = _port(ctx, "MLMESH_INFERENCE_GRPC_PORT", ports.INFERENCE_GRPC) + shift
    metrics = _port(ctx, "MLMESH_INFERENCE_METRICS_PORT", ports.INFERENCE_METRICS) + shift
    addr = f"{host}:{port}"
    return ServiceComponent(
        replica_name("inference", n), "inference", ctx.state_dir,
        env=ctx.service_env(MLMESH_INFERENCE_GRPC_HOST=host, MLMESH_INFERENCE_GRPC_PORT=str(port),
                            MLMESH_INFERENCE_METRICS_PORT=str(metrics)),
        health_probe=grpc_health_probe(addr, "mlmesh.inference.v1.InferenceService"),
        addresses={"grpc": addr, "metrics": f"http://127.0.0.1:{metrics}/metrics"},
        dependencies=grpc_dependencies(addr, ("triton", "feast", "milvus")),
    )


def embedder_factory(ctx: StackContext) -> Component:
    return _replicated(ctx, "embedder", lambda n, shift: _embedder(ctx, n, shift))


def _embedder(ctx: StackContext, n: int, shift: int) -> ServiceComponent:
    host = ctx.env.get("MLMESH_EMBEDDER_HTTP_HOST", "127.0.0.1")
    port = _port(ctx, "MLMESH_EMBEDDER_METRICS_PORT", ports.EMBEDDER_METRICS) + shift
    return ServiceComponent(
        replica_name("embedder", n), "embedder", ctx.state_dir,
        env=ctx.service_env(MLMESH_EMBEDDER_HTTP_HOST=host,
                            MLMESH_EMBEDDER_METRICS_PORT=str(port)),
        # ready only when Kafka, Triton and Milvus all answer
        health_probe=http_probe(f"http://{host}:{port}/readyz"),
        addresses={"health": f"http://{host}:{port}/readyz",
                   "metrics": f"http://{host}:{port}/metrics"},
    )
