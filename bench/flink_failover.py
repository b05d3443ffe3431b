"""The features job's recovery after a TaskManager SIGKILL on the session
cluster, against its steady state in the same run (issue #29):
``python -m bench.flink_failover``.

The cluster profile's Flink: a standalone session cluster (a JobManager, two
TaskManagers of two slots) started from the PyFlink wheel's distribution, the
tiles job (the default) submitted with ``flink run`` at parallelism 2,
checkpoints on one shared directory; one local broker. Probe events, each for
a user of its own with event time = now, are produced at ``--rate``/s; a
``read_committed`` consumer of ``feature_updates`` (what the feature writer
reads; it makes a delta servable in milliseconds more, features_fresh.json)
records when each probe's tile delta was committed. Phases of ``--phase-s``:
steady; the TaskManager running the most subtasks SIGKILLed (the job restarts
from its latest checkpoint on the other one's spare slot); the killed
TaskManager started again (what a supervisor or Kubernetes does). Figures per
phase: probe event -> committed delta p50/p99/max; the recovery time, from the
kill until the first probe produced after it is committed; until the job
reports RUNNING again; the longest stall without any committed delta; then
every acknowledged probe counted once (lost and duplicated, target 0).
Output: bench/results/flink_failover.json.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in ("", "lib", "tooling", "gen/python", "services", "tests/integration/features"):
    sys.path.insert(0, str(ROOT / _p))

from bench.common import broker, percentiles, ratio, until, write  # noqa: E402
from bench.features_fresh import _event, _producer  # noqa: E402

log = logging.getLogger("bench.flink_failover")


class Probes:
    """A thread producing one probe event per user at ``rate``/s; ``acked``:
    user -> monotonic send time of every probe the broker acknowledged."""

    def __init__(self, bootstrap: str, topic: str, rate: float, seed: int) -> None:
        self.producer = _producer(bootstrap)
        self.topic, self.rate, self.rnd = topic, rate, random.Random(seed)
        self.sent: dict[str, float] = {}
        self.acked: dict[str, float] = {}
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _done(self, err: Any, msg: Any) -> None:
        user = msg.key().decode()
        if err is None:
            self.acked[user] = self.sent[user]
        else:
            self.errors += 1

    def _run(self) -> None:
        i, t0 = 0, time.monotonic()
        while not self.stop.is_set():
            user = f"p-{i}"
            self.sent[user] = time.monotonic()
            ts = int(time.time() * 1000)
            self.producer.produce(self.topic, _event(i, user, ts, self.rnd), key=user.encode(),
                                  timestamp=ts, on_delivery=self._done)
            self.producer.poll(0)
            i += 1
            time.sleep(max(0.0, t0 + i / self.rate - time.monotonic()))
        self.producer.flush(60)


class Committed:
    """A read_committed consumer of the job's output: per probe user, when its
    first delta was seen and the events all its deltas count."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"ff-{uuid.uuid4().hex[:6]}",
                                  "auto.offset.reset": "earliest",
                                  "isolation.level": "read_committed",
                                  "enable.auto.commit": False})
        self.consumer.subscribe([topic])
        self.seen: dict[str, float] = {}
        self.events: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from mlmesh.events.v1 import feature_update_pb2

        while not self.stop.is_set():
            for m in self.consumer.consume(1000, 0.05):
                if m.error() is not None:
                    continue
                now = time.monotonic()
                fu = feature_update_pb2.FeatureUpdate.FromString(m.value() or b"")
                if fu.user_id.startswith("p-"):
                    self.seen.setdefault(fu.user_id, now)
                    self.events[fu.user_id] = (self.events.get(fu.user_id, 0.0)
                                               + fu.values.get("events", 0.0))
        self.consumer.close()


def _phase(probes: Probes, seen: Committed, name: str, t0: float, t1: float) -> dict[str, Any]:
    lat = [(seen.seen[u] - s) * 1000 for u, s in probes.acked.items()
           if t0 <= s < t1 and u in seen.seen]
    pct = percentiles(lat) if lat else {}
    return {"phase": name, "seconds": round(t1 - t0, 2),
            "probes": sum(1 for s in probes.acked.values() if t0 <= s < t1),
            "latency_ms": {**{k: round(v, 1) for k, v in pct.items()},
                           "max": round(max(lat, default=0.0), 1)}}


def run(bootstrap: str, state: Path, rate: float, phase_s: float,
        seed: int) -> dict[str, Any]:
    from features_scenario import Topics

    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.flink_cluster import FlinkSessionComponent

    topics = Topics(f"ff{uuid.uuid4().hex[:8]}")
    topics.create(bootstrap)
    comp = FlinkSessionComponent(
        state, bootstrap, rest_port=free_port(), rpc_port=free_port(),
        args=["--events-topic", topics.events, "--documents-topic", topics.docs,
              "--output-topic", topics.out, "--group-id", topics.prefix,
              "--txn-prefix", topics.prefix])
    t_start = time.monotonic()
    comp.start(timeout=300)
    startup_s = time.monotonic() - t_start
    probes, seen = Probes(bootstrap, topics.events, rate, seed), Committed(bootstrap, topics.out)
    try:
        seen.thread.start()
        probes.thread.start()
        time.sleep(20.0)  # warm-up (JIT, first checkpoints): not reported
        marks = {"steady": time.monotonic()}
        time.sleep(phase_s)
        victim = comp.busiest_taskmanagers()[0]
        marks["failover"] = time.monotonic()
        comp.kill_taskmanager(int(victim.rsplit("-", 1)[1]))
        # the JobManager notices the loss (a failed task, missed heartbeats),
        # restarts the job, and it runs again
        noticed = until(lambda: not comp.overview().running, 30)
        running_again = None if noticed is None else until(
            lambda: comp.overview().running, 120)
        if running_again is not None:
            running_again = time.monotonic() - marks["failover"]
        time.sleep(max(0.0, marks["failover"] + phase_s - time.monotonic()))
        marks["restarted"] = time.monotonic()
        comp.start(timeout=120)
        time.sleep(max(0.0, marks["restarted"] + phase_s - time.monotonic()))
        marks["end"] = time.monotonic()
        probes.stop.set()
        probes.thread.join(90)
        until(lambda: set(probes.acked) <= set(seen.seen), 120)
        time.sleep(3.0)  # a duplicate delta (wrong) would be committed by now
    finally:
        probes.stop.set()
        probes.thread.join(90)
        seen.stop.set()
        seen.thread.join(30)
        comp.stop()
    names = ["steady", "failover", "restarted", "end"]
    phases = [_phase(probes, seen, a, marks[a], marks[b]) for a, b in itertools.pairwise(names)]
    kill = marks["failover"]
    after = [seen.seen[u] for u, s in probes.acked.items() if s >= kill and u in seen.seen]
    commits = sorted(t for t in seen.seen.values() if kill <= t < marks["restarted"])
    stall = max((b - a for a, b in itertools.pairwise([kill, *commits, marks["restarted"]])),
                default=0.0)
    lost = sorted(set(probes.acked) - set(seen.seen))
    duplicated = sorted(u for u, n in seen.events.items() if n > 1.0 + 1e-9)
    steady, failover = phases[0], phases[1]
    # the slowest probe of each second from the start of the steady phase: the
    # shape of the failover, and any stall outside it
    timeline: dict[int, float] = {}
    for u, sent in probes.acked.items():
        if u in seen.seen and sent >= marks["steady"]:
            sec = int(sent - marks["steady"])
            timeline[sec] = max(timeline.get(sec, 0.0), (seen.seen[u] - sent) * 1000)
    recovery = min(after, default=kill) - kill if after else None
    return {
        "probes_per_s": rate, "phase_s": phase_s, "startup_s": round(startup_s, 1),
        "killed_taskmanager": victim, "phases": phases,
        "recovery_s": None if recovery is None else round(recovery, 2),
        "job_running_again_s": None if running_again is None else round(running_again, 2),
        "longest_stall_s": round(stall, 2),
        "acknowledged_probes": len(probes.acked), "delivery_errors": probes.errors,
        "lost": len(lost), "duplicated": len(duplicated), "lost_sample": lost[:10],
        "duplicated_sample": duplicated[:10],
        "latency_ms": {f"event_to_committed_{p['phase']}": p["latency_ms"] for p in phases},
        "kill_at_s": round(kill - marks["steady"], 1),
        "slowest_probe_ms_per_second": [round(timeline.get(i, 0.0)) for i in
                                        range(max(timeline, default=-1) + 1)],
        "ratios": [
            ratio("failover p99 vs steady", failover["latency_ms"].get("p99", 0.0),
                  steady["latency_ms"].get("p99", 1.0), None, "ms", higher_is_better=False),
            ratio("probes lost", float(len(lost)), 1.0, 0.0, "events",
                  higher_is_better=False, note="target 0"),
            ratio("probes counted twice", float(len(duplicated)), 1.0, 0.0, "events",
                  higher_is_better=False, note="target 0"),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200.0, help="probe events/s")
    ap.add_argument("--phase-s", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=29)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with broker() as bootstrap, tempfile.TemporaryDirectory(prefix="bench-flink-") as tmp:
        result = run(bootstrap, Path(tmp), args.rate, args.phase_s, args.seed)
    log.info("wrote %s", write("flink_failover", result))
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
