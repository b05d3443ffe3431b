"""Two replicas of ingest as the cluster profile runs them: one component,
two processes on their own ports; a client's round-robin channel over both
keeps publishing while one is SIGKILLed, and a start brings only that one
back. Every acknowledged event is in the topic once."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.localstack.base import pid_alive, port_open
from mlmesh.localstack.mesh import ingest_factory
from mlmesh.localstack.replicas import ReplicaSet
from mlmesh.localstack.stack import StackContext
from mlmesh.testing.builders import event
from mlmesh.testing.kafka import consume_all
from mlmesh.tls import open_channel


def _ports(step: int) -> list[int]:
    """Three ports free with their replica-2 twins ``+ step``, below the
    ephemeral range: a port taken from it (free_port) could be given to an
    outgoing connection before replica 2 binds it (CI saw EADDRINUSE)."""
    for base in range(23100, 23900, 10):
        ports = [base, base + 1, base + 2]
        wanted = ports + [p + step for p in ports]
        if all(_bindable(p) for p in wanted):
            return ports
    raise RuntimeError("no free block of ports in 23100-23900")


def _bindable(port: int) -> bool:
    import socket

    if port_open(port):
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def accepted_by(metrics_port: int) -> int:
    """User events one replica accepted (its ``ingest_items_total`` counter)."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(int(float(m.group(1))) for m in re.finditer(
        r'^ingest_items_total\{[^}]*kind="user_event"[^}]*outcome="accepted"[^}]*\} (\S+)$',
        text, re.M))


def test_two_ingest_replicas_round_robin_and_one_killed(kafka_bootstrap: str,
                                                        tmp_path: Path) -> None:
    topics = {"events": "rep.ev", "documents": "rep.docs", "labels": "rep.labels"}
    ensure_topics(kafka_bootstrap, [TopicSpec(t, 3) for t in topics.values()]
                  + [TopicSpec(t + ".dlq", 1) for t in topics.values()], timeout=60)
    step = 7
    grpc_port, http_port, metrics = _ports(step)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLMESH_")},
           "MLMESH_KAFKA_BOOTSTRAP": kafka_bootstrap, "MLMESH_STACK_REPLICAS": "2",
           "MLMESH_STACK_REPLICA_PORT_STEP": str(step),
           "MLMESH_INGEST_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
           "MLMESH_INGEST_HTTP_ADDRESS": f"127.0.0.1:{http_port}",
           "MLMESH_INGEST_METRICS_PORT": str(metrics),
           **{f"MLMESH_INGEST_{k.upper()}_TOPIC": v for k, v in topics.items()}}
    comp = ingest_factory(StackContext(state_dir=tmp_path, env=env))
    assert isinstance(comp, ReplicaSet)
    acked: list[str] = []
    comp.start(timeout=120)
    channel = open_channel(comp.addresses["grpcs"], None)
    stub = pb_grpc.IngestServiceStub(channel)
    try:
        status = comp.status()
        first = json.loads((tmp_path / "run" / "ingest.json").read_text())["pid"]

        def publish(tag: str) -> None:
            for b in range(6):  # round-robin: both replicas take batches
                batch = [event(f"user-{i % 7}", i) for i in range(50)]
                for i, e in enumerate(batch):
                    e.event_id = f"{tag}-{b}-{i}"
                resp = stub.Publish(pb.PublishRequest(events=batch), timeout=30,
                                    wait_for_ready=True)
                assert resp.accepted == 50, [r.error for r in resp.results][:3]
                acked.extend(e.event_id for e in batch)

        publish("both")
        took = [accepted_by(metrics), accepted_by(metrics + step)]
        os.killpg(first, signal.SIGKILL)  # replica 1 dies; the channel skips it
        publish("one")
        down = comp.status()
        comp.start(timeout=120)
        again = comp.status()
        publish("again")
    finally:
        channel.close()
        comp.stop()
    assert status.healthy and status.detail == "2/2 replicas serving"
    # the channel balanced: each replica accepted some of the 300 events
    assert sum(took) == 300 and min(took) > 0, took
    assert [r["name"] for r in status.replicas] == ["ingest", "ingest-2"]
    assert status.addresses["grpcs"] == (f"127.0.0.1:{grpc_port},"
                                         f"127.0.0.1:{grpc_port + step}")
    assert not down.healthy and down.detail == "1/2 replicas serving"
    assert again.healthy and again.replicas[1]["pid"] == status.replicas[1]["pid"]
    assert not any(pid_alive(int(r["pid"])) for r in again.replicas)
    ids = Counter(user_event_pb2.UserEvent.FromString(v).event_id
                  for _k, v in consume_all(kafka_bootstrap, topics["events"], timeout=60))
    assert set(acked) <= set(ids), f"{len(set(acked) - set(ids))} acknowledged events lost"
    assert all(ids[i] == 1 for i in acked), "an acknowledged event was written twice"
