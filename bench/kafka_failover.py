"""Produce latency and throughput while a partition leader fails over, against
the same cluster's steady state in the same run (issue #29):
``python -m bench.kafka_failover``.

A three-broker KRaft cluster (the ``cluster`` profile's settings: replication
factor 3, min.insync.replicas=2), one topic of 6 partitions, the mesh's
producer settings (idempotent, acks=all) at a steady offered rate. Phases of
``--phase-s`` each: steady; the broker leading the most partitions SIGKILLed
(failover); the cluster on two brokers; the broker restarted (catch-up). Per
phase: acknowledged records/s and send -> acknowledgement p50/p99 of the
records sent in it; the longest gap without any acknowledgement; the time
until every partition had a leader again and until the restarted broker was
back in every ISR; then the topic read back: every acknowledged record
present once (lost and duplicated, target 0).
Output: bench/results/kafka_failover.json.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import percentiles, ratio, until, write
from mlmesh.chaos.acked import AckedWriter, audit
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.localstack.base import free_port
from mlmesh.localstack.kafka_cluster import KafkaClusterComponent, cluster_state, durable
from mlmesh.testing.kafka import consume_all

log = logging.getLogger("bench.kafka_failover")
TOPIC = "failover.bench"


def _phase(writer: AckedWriter, name: str, t0: float, t1: float) -> dict[str, Any]:
    lat = writer.latencies_ms(t0, t1)
    return {"phase": name, "seconds": round(t1 - t0, 2),
            "acked_per_s": round(writer.acked_between(t0, t1) / (t1 - t0), 1),
            "sent_in_phase": sum(1 for d in writer.snapshot().values() if t0 <= d.sent < t1),
            "latency_ms": {k: round(v, 2) for k, v in percentiles(lat).items()}}


def _max_gap_s(writer: AckedWriter, t0: float, t1: float) -> float:
    times = sorted(d.done for d in writer.snapshot().values()
                   if d.done is not None and d.error is None and t0 <= d.done < t1)
    edges = [t0, *times, t1]
    return round(max(b - a for a, b in itertools.pairwise(edges)), 3)


def run(cluster: KafkaClusterComponent, rate: float, phase_s: float) -> dict[str, Any]:
    ensure_topics(cluster.bootstrap, [durable(TopicSpec(TOPIC, 6))])
    writer = AckedWriter(cluster.bootstrap, TOPIC, rate=rate, run="b").start()
    time.sleep(3)  # producer connected, batches flowing
    marks: dict[str, float] = {"steady": time.monotonic()}
    time.sleep(phase_s)
    leads = cluster_state(cluster.bootstrap).leaders()
    victim = max(leads, key=lambda b: leads[b])
    marks["failover"] = time.monotonic()
    cluster.node(victim).kill()
    def failed_over() -> bool:
        state = cluster_state(cluster.bootstrap, timeout=2)
        return not state.offline and victim not in state.leaders()

    leaders_back = until(failed_over, 60)
    time.sleep(max(0.0, phase_s - (time.monotonic() - marks["failover"])))
    marks["two_brokers"] = time.monotonic()
    time.sleep(phase_s)
    marks["catch_up"] = time.monotonic()
    cluster.node(victim).launch()
    in_sync = until(lambda: not cluster_state(cluster.bootstrap, timeout=2).under_replicated,
                     180)
    time.sleep(max(0.0, phase_s - (time.monotonic() - marks["catch_up"])))
    marks["end"] = time.monotonic()
    outstanding = writer.stop(flush_s=120)
    names = ["steady", "failover", "two_brokers", "catch_up", "end"]
    phases = [_phase(writer, a, marks[a], marks[b]) for a, b in itertools.pairwise(names)]
    acks = audit(writer, [v for _k, v in consume_all(cluster.bootstrap, TOPIC, timeout=120)])
    steady, failover = phases[0], phases[1]
    return {
        "offered_per_s": rate, "phase_s": phase_s, "killed_broker": victim,
        "partitions_led_by_it": leads[victim], "phases": phases,
        "longest_ack_gap_s_in_failover": _max_gap_s(writer, marks["failover"],
                                                    marks["two_brokers"]),
        "leaders_elected_s": None if leaders_back is None else round(leaders_back, 2),
        "restarted_broker_in_sync_s": None if in_sync is None else round(in_sync, 2),
        "outstanding_after_flush": outstanding, "delivery_errors": dict(writer.errors()),
        "audit": acks.to_dict(),
        "latency_ms": {f"produce_{p['phase']}": p["latency_ms"] for p in phases},
        "ratios": [
            ratio("failover throughput vs steady", failover["acked_per_s"],
                  steady["acked_per_s"], None, "acked records/s"),
            ratio("failover p99 vs steady", failover["latency_ms"]["p99"],
                  steady["latency_ms"]["p99"], None, "ms", higher_is_better=False),
            ratio("acknowledged records lost", float(len(acks.lost)), 1.0, 0.0, "records",
                  higher_is_better=False, note="target 0"),
            ratio("records duplicated", float(len(acks.duplicated)), 1.0, 0.0, "records",
                  higher_is_better=False, note="target 0"),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=5000.0, help="offered records/s")
    ap.add_argument("--phase-s", type=float, default=15.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-kafka-failover-") as tmp:
        cluster = KafkaClusterComponent(Path(tmp), node_ports=[(free_port(), free_port())
                                                               for _ in range(3)])
        cluster.start(timeout=180)
        try:
            result = run(cluster, args.rate, args.phase_s)
        finally:
            cluster.stop()
    log.info("wrote %s", write("kafka_failover", result))
    return 0 if result["audit"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
