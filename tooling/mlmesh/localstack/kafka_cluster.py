"""A real three-node Apache Kafka 4.1 KRaft cluster as local processes (the
``cluster`` profile of ``mlmesh up``).

Each node is a :class:`~mlmesh.localstack.kafka.KafkaComponent` (broker and
controller in one JVM, ``kafka-<n>``) with its own ports and log dir, formatted
with one shared cluster id and a static voter set of all three controllers.
Durability as a production cluster has it: every topic at replication factor 3
with ``min.insync.replicas=2`` (the internal offsets and transaction topics
too), unclean leader election off. With ``acks=all`` (the mesh's producers)
an acknowledged record is on two brokers at least, one broker may fail
without stopping writes, and a second failure stops them rather than lose
any (NOT_ENOUGH_REPLICAS).
"""

from __future__ import annotations

import logging
import time
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from mlmesh.common import ports
from mlmesh.kafka.topics import TopicSpec
from mlmesh.localstack.base import ComponentStatus
from mlmesh.localstack.kafka import KafkaComponent

log = logging.getLogger(__name__)

NODES = 3
REPLICATION_FACTOR = 3
MIN_INSYNC = 2
# node n (0-based): broker KAFKA + 100 n, controller KAFKA_CONTROLLER + 100 n
# (19092/19093, 19192/19193, 19292/19293: clear of the mesh's other ports)
PORT_STEP = 100


def cluster_bootstrap(nodes: int = NODES) -> str:
    return ",".join(f"127.0.0.1:{b}" for b, _c in default_node_ports(nodes))


def node_properties(node_id: int, voters: str) -> dict[str, str]:
    """What a cluster node overrides in the single-node template (later keys win)."""
    return {
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "default.replication.factor": str(REPLICATION_FACTOR),
        "min.insync.replicas": str(MIN_INSYNC),
        "unclean.leader.election.enable": "false",
        "offsets.topic.replication.factor": str(REPLICATION_FACTOR),
        "transaction.state.log.replication.factor": str(REPLICATION_FACTOR),
        "transaction.state.log.min.isr": str(MIN_INSYNC),
        "share.coordinator.state.topic.replication.factor": str(REPLICATION_FACTOR),
        "share.coordinator.state.topic.min.isr": str(MIN_INSYNC),
        # a follower that stops fetching leaves the ISR after this long
        "replica.lag.time.max.ms": "10000",
    }


@dataclass
class PartitionState:
    topic: str
    partition: int
    leader: int  # -1: no leader
    replicas: list[int]
    isr: list[int]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass
class ClusterState:
    brokers: list[int]
    controller: int
    partitions: list[PartitionState]

    @property
    def under_replicated(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.under_replicated]

    @property
    def offline(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.leader < 0]

    def leaders(self) -> dict[int, int]:
        """Broker id -> partitions it leads."""
        out = {b: 0 for b in self.brokers}
        for p in self.partitions:
            if p.leader >= 0:
                out[p.leader] = out.get(p.leader, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"brokers": self.brokers, "controller": self.controller,
                "leaders": {str(k): v for k, v in self.leaders().items()},
                "partitions": len(self.partitions),
                "under_replicated": [f"{p.topic}-{p.partition} isr={p.isr}"
                                     for p in self.under_replicated],
                "offline": [f"{p.topic}-{p.partition}" for p in self.offline]}


def cluster_state(bootstrap: str, timeout: float = 5.0,
                  include_internal: bool = False) -> ClusterState:
    """Brokers, the active controller and every partition's leader, replicas and ISR."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "log_level": 0,
                            "error_cb": lambda _err: None}
    md = AdminClient(conf).list_topics(timeout=timeout)
    parts = [PartitionState(str(t.topic), p.id, p.leader, list(p.replicas), list(p.isrs))
             for t in md.topics.values()
             if include_internal or not str(t.topic).startswith("__")
             for p in t.partitions.values()]
    parts.sort(key=lambda p: (p.topic, p.partition))
    return ClusterState(sorted(md.brokers), md.controller_id, parts)


def durable(spec: TopicSpec) -> TopicSpec:
    """A declared topic as the cluster keeps it: 3 replicas, 2 in sync to accept a write."""
    return replace(spec, replication_factor=max(spec.replication_factor, REPLICATION_FACTOR),
                   config={**spec.config, "min.insync.replicas": str(MIN_INSYNC)})


def default_node_ports(nodes: int = NODES) -> list[tuple[int, int]]:
    return [(ports.KAFKA + PORT_STEP * n, ports.KAFKA_CONTROLLER + PORT_STEP * n)
            for n in range(nodes)]


class KafkaClusterComponent:
    """KRaft nodes, three by default (Component protocol); ``nodes[i]`` is node
    id ``i + 1``, with ``node_ports[i]`` = (broker port, controller port)."""

    def __init__(self, state_dir: Path, node_ports: Sequence[tuple[int, int]] | None = None,
                 heap: str = "400m", name: str = "kafka") -> None:
        self.name = name
        self.state_dir = Path(state_dir).resolve()
        node_ports = list(node_ports or default_node_ports())
        voters = ",".join(f"{n + 1}@127.0.0.1:{c}" for n, (_b, c) in enumerate(node_ports))
        self.nodes = [KafkaComponent(self.state_dir, port=b, controller_port=c,
                                     heap=heap, name=f"{name}-{n + 1}",
                                     extra_properties=node_properties(n + 1, voters))
                      for n, (b, c) in enumerate(node_ports)]
        self.cluster_id_path = self.state_dir / f"{name}-cluster-id"

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    @property
    def addresses(self) -> dict[str, str]:
        return {"bootstrap": self.bootstrap,
                **{f"{n.name}": n.bootstrap for n in self.nodes}}

    def node(self, broker_id: int) -> KafkaComponent:
        return self.nodes[broker_id - 1]

    def _share_cluster_id(self) -> None:
        """One cluster id for every node, written before any node formats."""
        if not self.cluster_id_path.exists():
            cid = urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            self.cluster_id_path.parent.mkdir(parents=True, exist_ok=True)
            self.cluster_id_path.write_text(cid + "\n")
        cid = self.cluster_id_path.read_text()
        for n in self.nodes:
            n.home.mkdir(parents=True, exist_ok=True)
            (n.home / "cluster_id").write_text(cid)

    def start(self, timeout: float = 180.0) -> None:
        t0 = time.monotonic()
        self._share_cluster_id()
        for n in self.nodes:
            n.launch()
        for n in self.nodes:
            n.wait_ready(max(1.0, timeout - (time.monotonic() - t0)))
        self.wait_brokers(len(self.nodes), max(1.0, timeout - (time.monotonic() - t0)))
        log.info("kafka cluster ready", extra={"bootstrap": self.bootstrap,
                                               "seconds": round(time.monotonic() - t0, 2)})

    def wait_brokers(self, count: int, timeout: float = 60.0) -> ClusterState:
        """Until the cluster's metadata lists ``count`` brokers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = cluster_state(self.bootstrap, timeout=2.0)
                if len(state.brokers) >= count:
                    return state
            except Exception:  # not answering yet
                pass
            if time.monotonic() >= deadline:
                raise TimeoutError(f"kafka cluster: fewer than {count} brokers after "
                                   f"{timeout:.0f}s")
            time.sleep(0.5)

    def healthy(self) -> bool:
        return all(n.healthy() for n in self.nodes)

    def stop(self, timeout: float = 30.0) -> None:
        """All nodes at once: one at a time, the last two would each wait for a
        controller quorum that the previous stops took away."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.stop(timeout), self.nodes))

    def kill(self) -> None:
        for n in self.nodes:
            n.kill()

    def status(self) -> ComponentStatus:
        statuses = [n.status() for n in self.nodes]
        up = sum(1 for s in statuses if s.healthy)
        running = [s for s in statuses if s.running]
        detail = f"{up}/{len(self.nodes)} brokers ready"
        if up:
            try:
                state = cluster_state(self.bootstrap, timeout=2.0)
                detail += (f", {len(state.under_replicated)} under-replicated, "
                           f"{len(state.offline)} offline partitions")
            except Exception as exc:  # status must always answer
                detail += f", metadata: {exc!r}"
        return ComponentStatus(self.name, healthy=up == len(self.nodes), running=bool(running),
                               pid=running[0].pid if running else None,
                               addresses=self.addresses, detail=detail)
