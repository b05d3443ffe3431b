"""Scaling you can see (issue #29): the same work at 1 and 2 TaskManagers and
at 1 and 2 feature-writer replicas, in one run: ``python -m bench.scaling``.

1. **The features job** (tiles, the default) on the cluster profile's Flink
   session cluster: 1 TaskManager at parallelism 1, then 2 TaskManagers at
   parallelism 2, each a fresh cluster reading a backlog (``--users`` users,
   event times in the last 50 minutes, ``user_events`` of 4 partitions) as a
   bounded job, at two sizes (``--events`` and half of it). Figures per run:
   events/s over the job's RUNNING -> FINISHED time (Flink's own timestamps)
   and CPU time of the TaskManager processes (their whole process trees, from
   before the submission to the end); between the two sizes, the marginal
   rate and CPU per event, without what every job pays once (deployment,
   JIT, the Python and RocksDB start-up), and that fixed CPU.
2. **The feature writer** at 1 and 2 replicas (the cluster profile's
   ``ReplicaSet``, one consumer group, SQLite online store + Parquet offline
   store): each set waits on an empty topic of 4 partitions until every
   replica serves, then the tile deltas of step 1 are produced into it at
   once. Figures: deltas/s from the first produced to the group's committed
   offsets at the end, and CPU time per delta of the replicas.

This machine has 2 cores shared with the broker and the load: a second
TaskManager or replica adds processes, not cores, so the speed-ups here are a
floor; the CPU time per item is what ``docs/scaling.md`` sizes the fleet from.
Output: bench/results/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in ("", "lib", "tooling", "gen/python", "services", "tests/integration/features"):
    sys.path.insert(0, str(ROOT / _p))

from bench.common import broker, ratio, tree_cpu_seconds, write  # noqa: E402

log = logging.getLogger("bench.scaling")
PARTITIONS = 4


def _topic(bootstrap: str, name: str) -> str:
    from mlmesh.kafka.topics import TopicSpec, ensure_topics

    ensure_topics(bootstrap, [TopicSpec(name, PARTITIONS)])
    return name


def backlog(bootstrap: str, topic: str, n: int, users: int) -> None:
    from bench.features_events import events, produce

    start = int(time.time() * 1000) - 50 * 60_000
    produce(bootstrap, topic, events(n, users, start, 45 * 60_000 / n, seed=29))


def _job_times(rest: str, jid: str) -> tuple[str, float]:
    with urllib.request.urlopen(f"{rest}/jobs/{jid}", timeout=5) as resp:
        job = json.loads(resp.read())
    ts = job.get("timestamps", {})
    ran = (ts.get("FINISHED", 0) - ts.get("RUNNING", 0)) / 1000 if ts.get("FINISHED") else 0.0
    return str(job.get("state")), ran


def features_job(bootstrap: str, state: Path, events_topic: str, n: int,
                 taskmanagers: int) -> dict[str, Any]:
    """The bounded tiles job at parallelism = TaskManagers, on a fresh cluster."""
    from mlmesh.localstack.base import free_port, live_record
    from mlmesh.localstack.flink_cluster import FlinkSessionComponent

    tag = f"s{taskmanagers}-{uuid.uuid4().hex[:6]}"
    out = _topic(bootstrap, f"{tag}.feature_updates")
    _topic(bootstrap, f"{tag}.documents")
    comp = FlinkSessionComponent(
        state / tag, bootstrap, rest_port=free_port(), rpc_port=free_port(),
        taskmanagers=taskmanagers, parallelism=taskmanagers,
        args=["--events-topic", events_topic, "--documents-topic", f"{tag}.documents",
              "--output-topic", out, "--group-id", tag, "--txn-prefix", tag, "--bounded",
              "--startup-mode", "earliest-offset"])
    comp.start_cluster()
    try:
        pids = [rec.pid for r in comp.process_names[1:]
                if (rec := live_record(comp.run_dir, r)) is not None]
        cpu0 = sum(tree_cpu_seconds(p) for p in pids)
        comp.submit()
        rest = comp.addresses["rest"]
        deadline = time.monotonic() + 900
        jid = ""
        while time.monotonic() < deadline:
            jobs = comp.overview().jobs
            if jobs:
                jid = str(jobs[0]["jid"])
                if jobs[0].get("state") in ("FINISHED", "FAILED", "CANCELED"):
                    break
            time.sleep(0.5)
        cpu = sum(tree_cpu_seconds(p) for p in pids) - cpu0
        state_, ran = _job_times(rest, jid)
    finally:
        comp.stop()
    if state_ != "FINISHED" or ran <= 0:
        raise RuntimeError(f"the bounded job ended {state_} (see {comp.logs})")
    return {"taskmanagers": taskmanagers, "parallelism": taskmanagers, "events": n,
            "running_s": round(ran, 2), "events_per_s": round(n / ran),
            "taskmanager_cpu_s": round(cpu, 2),
            "cpu_us_per_event": round(cpu / n * 1e6, 1), "output_topic": out}


def _marginal(small: dict[str, Any], big: dict[str, Any]) -> dict[str, Any]:
    """Per event between two sizes of the same job: (big - small) / events more."""
    more = big["events"] - small["events"]
    dt = big["running_s"] - small["running_s"]
    dcpu = big["taskmanager_cpu_s"] - small["taskmanager_cpu_s"]
    return {"taskmanagers": big["taskmanagers"], "parallelism": big["parallelism"],
            "events_per_s": round(more / dt) if dt > 0 else None,
            "cpu_us_per_event": round(dcpu / more * 1e6, 1),
            "fixed_cpu_s": round(small["taskmanager_cpu_s"] - dcpu / more * small["events"], 1)}


def _caught_up(offsets: Any, ends: Any, group: str, topic: str) -> bool:
    """Whether ``group`` committed every partition of ``topic`` to its end."""
    from confluent_kafka import TopicPartition

    parts = [(topic, p) for p in range(PARTITIONS)]
    got = offsets.committed(group, parts)
    for t, p in parts:
        end = ends.get_watermark_offsets(TopicPartition(t, p), timeout=5)[1]
        if end > 0 and got.get((t, p), -1) < end:
            return False
    return True


def feature_writer(bootstrap: str, state: Path, deltas: list[tuple[bytes | None, bytes | None]],
                   replicas: int) -> dict[str, Any]:
    """``replicas`` writers in one group on a fresh topic, then ``deltas`` into it."""
    from confluent_kafka import Consumer, Producer

    from mlmesh.kafka.committed import CommittedOffsets
    from mlmesh.localstack.base import free_port, port_open
    from mlmesh.localstack.mesh import feature_writer_factory
    from mlmesh.localstack.stack import StackContext

    tag = f"w{replicas}-{uuid.uuid4().hex[:6]}"
    topic = _topic(bootstrap, f"{tag}.feature_updates")
    metrics = free_port()  # replica 2's metrics: the next port, free too
    while port_open(metrics + 1):
        metrics = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLMESH_")},
           "MLMESH_KAFKA_BOOTSTRAP": bootstrap, "MLMESH_STACK_REPLICAS": str(replicas),
           "MLMESH_FEATURES_INPUT_TOPIC": topic, "MLMESH_FEATURES_GROUP_ID": tag,
           "MLMESH_FEATURES_METRICS_PORT": str(metrics),
           "MLMESH_STACK_REPLICA_PORT_STEP": "1"}
    comp = feature_writer_factory(StackContext(state_dir=state / tag, env=env))
    comp.start(timeout=240)
    try:
        statuses = comp.status()
        pids = [int(str(r["pid"])) for r in statuses.replicas] or [int(statuses.pid or 0)]
        time.sleep(5.0)  # the group settled: every replica holds partitions
        cpu0 = sum(tree_cpu_seconds(p) for p in pids)
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                      "partitioner": "murmur2_random", "enable.idempotence": True})
        t0 = time.monotonic()
        for key, value in deltas:
            while True:
                try:
                    p.produce(topic, value, key=key)
                    break
                except BufferError:
                    p.poll(0.05)
        assert p.flush(60) == 0
        offsets = CommittedOffsets(bootstrap)
        ends = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{tag}-ends"})
        try:
            while not _caught_up(offsets, ends, tag, topic):
                if time.monotonic() - t0 > 600:
                    raise TimeoutError(f"{tag}: the writers did not catch up in 600 s")
                time.sleep(0.2)
        finally:
            offsets.close()
            ends.close()
        took = time.monotonic() - t0
        cpu = sum(tree_cpu_seconds(p) for p in pids) - cpu0
    finally:
        comp.stop()
    return {"replicas": replicas, "deltas": len(deltas), "seconds": round(took, 2),
            "deltas_per_s": round(len(deltas) / took), "writer_cpu_s": round(cpu, 2),
            "cpu_us_per_delta": round(cpu / len(deltas) * 1e6, 1)}


def run(bootstrap: str, state: Path, n: int, users: int) -> dict[str, Any]:
    from mlmesh.testing.kafka import consume_all

    # the same work at two sizes: the difference is the cost per event without
    # what every job pays once (deployment, JIT, Python and RocksDB start-up)
    sizes = (n // 2, n)
    topics = {}
    for size in sizes:
        topics[size] = _topic(bootstrap, f"sc-{uuid.uuid4().hex[:6]}.user_events")
        backlog(bootstrap, topics[size], size, users)
    jobs = [features_job(bootstrap, state, topics[size], size, k)
            for k in (1, 2) for size in sizes]
    one, two = _marginal(jobs[0], jobs[1]), _marginal(jobs[2], jobs[3])
    deltas = consume_all(bootstrap, jobs[3]["output_topic"], timeout=120)
    writers = [feature_writer(bootstrap, state, deltas, k) for k in (1, 2)]
    w1, w2 = writers
    return {
        "events": n, "users": users, "partitions": PARTITIONS, "cores": os.cpu_count(),
        "features_job": jobs, "features_job_marginal": [one, two],
        "feature_writer": writers,
        "ratios": [
            ratio("features job events/s, 2 TaskManagers (p2) vs 1 (p1), marginal",
                  two["events_per_s"] or 0.0, one["events_per_s"] or 1.0, None, "events/s"),
            ratio("features job CPU per event, p2 vs p1, marginal", two["cpu_us_per_event"],
                  one["cpu_us_per_event"], None, "us", higher_is_better=False),
            ratio("feature writer deltas/s, 2 replicas vs 1", w2["deltas_per_s"],
                  w1["deltas_per_s"], None, "deltas/s"),
            ratio("feature writer CPU per delta, 2 replicas vs 1", w2["cpu_us_per_delta"],
                  w1["cpu_us_per_delta"], None, "us", higher_is_better=False),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=600_000,
                    help="the larger backlog (the smaller: half of it)")
    ap.add_argument("--users", type=int, default=2_000)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with broker() as bootstrap, tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        result = run(bootstrap, Path(tmp), args.events, args.users)
    log.info("wrote %s", write("scaling", result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
