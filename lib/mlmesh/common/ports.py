"""Default ports of the local mesh (``mlmesh up``, ``make demo``, ``python -m <svc>``).

Every service's ``Settings``, the client defaults and the local stack's launchers take
their defaults from here, so they cannot drift apart.

All of them lie below Linux's ephemeral port range (``net.ipv4.ip_local_port_range``,
32768-60999 by default). The kernel hands a port in that range to any outgoing
connection of the running stack (a Kafka client, a gRPC channel), so a listener whose
port is there can find it taken between a check and its bind. The conventional gRPC
port 50051 is in that range, which is why the local defaults are not it.

Container images and manifests keep the conventional in-container ports (gRPC 50051 /
50052, metrics 9464): there each process has a network namespace of its own, and they
set those ports explicitly.
"""

from __future__ import annotations

from pathlib import Path

# Servers the local stack starts.
KAFKA = 19092
KAFKA_CONTROLLER = 19093
KAFKA_SASL = 19094  # the local broker's SASL_SSL listener (MLMESH_STACK_KAFKA_SASL=1)
MILVUS = 19530
TRITON_HTTP = 18000
TRITON_GRPC = 18001
TRITON_METRICS = 18002
FLINK_REST = 18081
FLINK_RPC = 18083  # the cluster profile's JobManager RPC (Pekko)
REDIS = 6379
MLFLOW = 15000

# The mesh's own services.
INGEST_GRPC = 18051
INGEST_HTTP = 18080
INFERENCE_GRPC = 18052
MONITOR_HTTP = 18090
INGEST_METRICS = 19100
FEATURES_METRICS = 19101
EMBEDDER_METRICS = 19102
INFERENCE_METRICS = 19103
MONITOR_METRICS = 19104

# What a running local stack listens on (the demo refuses to start beside one).
STACK = (KAFKA, TRITON_GRPC, MILVUS, INGEST_GRPC, INFERENCE_GRPC, MONITOR_HTTP)

LINUX_EPHEMERAL = (32768, 60999)  # the kernel's default ip_local_port_range


def ephemeral_range(proc: Path = Path("/proc/sys/net/ipv4/ip_local_port_range"),
                    ) -> tuple[int, int]:
    """This host's ephemeral port range (inclusive); Linux's default when unreadable."""
    try:
        lo, hi = proc.read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return LINUX_EPHEMERAL


def all_defaults() -> dict[str, int]:
    """Every default port above, by name."""
    return {k: v for k, v in globals().items() if k.isupper() and isinstance(v, int)}
