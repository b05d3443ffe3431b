"""Several replicas of one service as one component (the ``cluster`` profile).

Replica 1 keeps the service's own name, run record and log (``ingest``), so a
single-replica stack and tools that address it by name are unchanged; replica
``n`` is ``<name>-<n>`` with its ports moved by ``(n - 1) * port_step``. The
replicas start one after another (each waits until it serves: Feast's
registry, Milvus' collection and the gRPC health are set up once before the
next shares them), stop together, and a start brings back only the replicas
that are down, as a supervisor would. Consumers among them share their
consumer group (Kafka splits the partitions), gRPC servers are balanced by
the clients' round-robin channel over the replicas' addresses
(:func:`mlmesh.tls.channel_target`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mlmesh.localstack.base import ComponentStatus
from mlmesh.localstack.service import ServiceComponent

REPLICA_PORT_STEP = 100  # replica n listens on its ports + (n - 1) * step


def replica_name(name: str, n: int) -> str:
    return name if n == 1 else f"{name}-{n}"


def moved(address: str, by: int) -> str:
    """``host:port`` or ``scheme://host:port[/path]`` with its port moved ``by``."""
    m = re.search(r":(\d{1,5})(?=/|$)", address)
    if m is None or by == 0:
        return address
    return f"{address[:m.start(1)]}{int(m.group(1)) + by}{address[m.end(1):]}"


class ReplicaSet:
    """``build(n)`` for n in 1..replicas, as one component (Component protocol)."""

    def __init__(self, name: str, replicas: int,
                 build: Callable[[int], ServiceComponent]) -> None:
        if replicas < 1:
            raise ValueError(f"{name}: replicas must be >= 1, got {replicas}")
        self.name = name
        self.replicas = [build(n + 1) for n in range(replicas)]

    def start(self, timeout: float = 120.0) -> None:
        """Each replica not serving, one after another, all within ``timeout``."""
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            replica.start(timeout=max(1.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> None:
        with ThreadPoolExecutor(len(self.replicas)) as pool:
            list(pool.map(lambda r: r.stop(timeout), self.replicas))

    @property
    def addresses(self) -> dict[str, str]:
        """Every replica's address under its key; the replicas of one key joined
        by commas (what a balancing client takes) under ``<key>s``."""
        out: dict[str, str] = {}
        for n, replica in enumerate(self.replicas, start=1):
            out.update({(k if n == 1 else f"{k}-{n}"): v for k, v in replica.addresses.items()})
        for key in self.replicas[0].addresses:
            if "://" not in self.replicas[0].addresses[key]:  # host:port: gRPC targets
                out[f"{key}s"] = ",".join(r.addresses[key] for r in self.replicas)
        return out

    def status(self) -> ComponentStatus:
        statuses = [r.status() for r in self.replicas]
        serving = sum(1 for s in statuses if s.healthy)
        first = statuses[0]
        running = [s for s in statuses if s.running]
        return ComponentStatus(
            self.name, healthy=serving == len(statuses), running=bool(running),
            addresses=self.addresses,
            detail=f"{serving}/{len(statuses)} replicas serving",
            pid=first.pid if first.running else (running[0].pid if running else None),
            dependencies=next((s.dependencies for s in statuses if s.dependencies), {}),
            replicas=[s.to_dict() for s in statuses])
