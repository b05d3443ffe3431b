"""Features freshness benchmark -> bench/results/features_fresh.json.

What a user of the mesh feels: an event produced to Kafka -> reflected in the
features inference reads (the user's tiles in Feast's online store, SQLite
and Redis, each written by the real writer loop in a process of its own, as
deployed). One run:

1. the tiles job (``--mode tiles``) reads backlogs of MLMESH_BENCH_FRESH_BACKLOG
   events (300,000; 1,000 users, event times in the last 50 minutes; encoded
   ahead, the clock starts at the first record sent, since the job reads them
   as they come): the first cold, the last JIT-warm; its sustained rate is the
   warm backlog's;
2. live: events are produced at each of MLMESH_BENCH_FRESH_LOADS (0.1, 0.25,
   0.5: a ladder; the target is held at 0.5) of that rate, then at each of
   MLMESH_BENCH_FRESH_FIXED_RATES (10,000 events/s: a rate at which this
   2-core machine has CPU to spare) for
   MLMESH_BENCH_FRESH_LIVE_S (20) s each, event time = the moment of producing
   (after each, the job catches up before the next starts: ``drain_s``, which
   includes the source's offset commits; a 5 s warm-up at the first load
   before them is not reported);
   each writer records when each tile delta became visible online. An event
   is reflected when its delta is: its latency lies between visible - the
   delta's newest event time and visible - its oldest; the figures count
   every event at the upper bound (conservative), p50 and p99 per store;
3. the online bytes per active user (the encoded ``user_tiles`` row).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
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

from bench.common import broker, percentiles, ratio, tree_cpu_seconds, write  # noqa: E402
from bench.features_fresh_diag import (  # noqa: E402
    checkpoints,
    diagnosis,
    machine_cpu_seconds,
    self_cpu_seconds,
)

USERS = 1000
TARGET_P99_MS = 1000.0
TARGET_LOAD = 0.5  # the issue's: the p99 target holds at half the job's sustained rate
# ... which needs more than this machine's 2 cores (features README,
# "Freshness"); the fixed rate at which the same target is held here
HELD_RATE = 10_000


def _event(i: int, user: str, ts: int, rnd: random.Random) -> bytes:
    from google.protobuf.timestamp_pb2 import Timestamp

    from mlmesh.events.v1 import user_event_pb2

    t = Timestamp()
    t.FromMilliseconds(ts)
    return user_event_pb2.UserEvent(event_id=f"e{i}", user_id=user, event_time=t,
                                    action=rnd.randint(1, 7),  # type: ignore[arg-type]
                                    amount=round(rnd.uniform(0, 200), 2)).SerializeToString()


def _producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                     "linger.ms": 5, "enable.idempotence": True, "compression.type": "lz4"})


def backlog(n: int, first: int, seed: int) -> list[tuple[bytes, bytes, int]]:
    """``n`` encoded events (key, value, timestamp) for USERS users, event
    times spread over the last 50 minutes."""
    rnd = random.Random(seed)
    users = [f"u{rnd.randrange(USERS)}" for _ in range(n)]
    now = int(time.time() * 1000)
    out = []
    for k, user in enumerate(users):
        ts = now - 50 * 60_000 + k * 50 * 60_000 // n
        out.append((user.encode(), _event(first + k, user, ts, rnd), ts))
    return out


def send(bootstrap: str, topic: str, msgs: list[tuple[bytes, bytes, int]]) -> None:
    """Encoded messages as fast as the client takes them."""
    p = _producer(bootstrap)
    for k, (key, value, ts) in enumerate(msgs):
        while True:
            try:
                p.produce(topic, value, key=key, timestamp=ts)
                break
            except BufferError:  # the client's queue is full: let it drain
                p.poll(0.01)
        if k % 10_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def produce(bootstrap: str, topic: str, n: int, first: int, rate: float, seed: int = 1) -> None:
    """``n`` live events for USERS users paced at ``rate``/s, event time = the
    moment of sending (encoded ahead: the pacing loop only stamps and sends)."""
    from mlmesh.events.v1 import user_event_pb2

    rnd = random.Random(seed)
    p = _producer(bootstrap)
    users = [f"u{rnd.randrange(USERS)}" for _ in range(n)]
    now = int(time.time() * 1000)
    msgs = [user_event_pb2.UserEvent.FromString(_event(first + k, u, now, rnd)) for k, u in
            enumerate(users)]
    t0 = time.time()
    for k, (user, msg) in enumerate(zip(users, msgs, strict=True)):
        ahead = k / rate - (time.time() - t0)
        if ahead > 0.002:
            time.sleep(ahead)
        ts = int(time.time() * 1000)
        msg.event_time.FromMilliseconds(ts)
        p.produce(topic, msg.SerializeToString(), key=user.encode(), timestamp=ts)
        if k % 1000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def wait_job_caught_up(bootstrap: str, group: str, topic: str, timeout: float = 180.0) -> float:
    """Seconds until the job's consumer group has committed (at a checkpoint)
    up to the end of ``topic``: a phase that outran the job is drained before
    the next one starts."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        parts = [TopicPartition(topic, p) for p in c.list_topics(topic, timeout=10)
                 .topics[topic].partitions]
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            done = c.committed(parts, timeout=10)
            if all(tp.offset >= c.get_watermark_offsets(tp, timeout=10)[1] for tp in done):
                break
            time.sleep(0.25)
        return round(time.monotonic() - t0, 2)
    finally:
        c.close()


def counted(bootstrap: str, topic: str, stop: threading.Event, out: dict[str, float]) -> None:
    """Sums the events of every committed tile delta on ``topic`` into out['n']."""
    from confluent_kafka import Consumer

    from mlmesh.events.v1 import feature_update_pb2

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"cnt-{uuid.uuid4().hex[:6]}",
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    while not stop.is_set():
        for m in c.consume(1000, 0.2):
            if m.error() is None:
                out["n"] = out.get("n", 0.0) + feature_update_pb2.FeatureUpdate.FromString(
                    m.value() or b"").values.get("events", 0.0)
    c.close()


def writer_process(bootstrap: str, topic: str, state_dir: str, online: str, redis_url: str,
                   ready: Any, stop: Any, out: Any) -> None:
    """The real writer loop from the live end of ``topic``; puts (store, [(visible,
    events, visible - min_ts, visible - max_ts, emitted - max_ts)], bytes per
    user, [(batch start, end, records)]) on ``out``."""
    from features.settings import Settings as WriterSettings
    from features.store import FeastStore
    from features.tile_store import TileStore, encode_row
    from features.writer.app import BatchWriter
    from mlmesh.common.lifecycle import StopSignal
    from mlmesh.kafka.config import consumer_config, producer_config
    from mlmesh.kafka.producer import MeshProducer
    from mlmesh.kafka.sink import SinkLoop

    settings = WriterSettings()
    store = FeastStore(Path(state_dir), online=online, redis_url=redis_url)
    store.open()
    tiles = TileStore(store, settings.session_gap_s * 1000)
    seen: list[tuple[float, float, float, float, float]] = []
    users: set[str] = set()

    def on_tiles(deltas: list[Any], visible: float) -> None:
        seen.extend((visible, d.events, visible - d.min_ts, visible - d.max_ts,
                     d.emitted_ms - d.max_ts) for d in deltas)
        if len(users) < 200:
            users.update(d.user_id for d in deltas)

    signal = StopSignal()
    handle = BatchWriter(store, tiles=tiles, on_tiles=on_tiles)
    batches: list[tuple[float, float, int]] = []  # (start, end) wall ms, records

    def timed(batch: list[Any]) -> Any:
        t0 = time.time() * 1000
        try:
            return handle(batch)
        finally:
            batches.append((t0, time.time() * 1000, len(batch)))

    loop = SinkLoop(consumer_config=consumer_config(bootstrap, f"fw-{uuid.uuid4().hex[:6]}",
                                                    "bench-writer", auto_offset_reset="latest"),
                    topics=[topic], handle_batch=timed,
                    service="bench", stop=signal,
                    dlq_producer=MeshProducer(producer_config(bootstrap, "b")),
                    batch_size=settings.batch_size, poll_timeout=settings.poll_timeout_s,
                    on_rebalance=tiles.forget)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    ready.set()
    stop.wait()
    signal.set()
    thread.join(30)
    states = tiles.read(sorted(users))
    sizes = [sum(len(v.SerializeToString()) for v in encode_row(s, tiles.gap_ms).values())
             for s in states.values() if s is not None]
    out.put((online, seen, sum(sizes) / len(sizes) if sizes else 0.0, batches))


def tiles_job(state: Path, bootstrap: str, topics: Any) -> Any:
    """The tiles job with its own defaults on ``topics`` (MLMESH_FEATURES_* in
    the environment override them)."""
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.flink import FlinkJobComponent

    return FlinkJobComponent(
        state, bootstrap, rest_port=free_port(), name=f"bench-job-{topics.prefix}",
        args=["--events-topic", topics.events, "--documents-topic", topics.docs,
              "--output-topic", topics.out, "--group-id", topics.prefix,
              "--txn-prefix", topics.prefix])


def _latency(seen: list[tuple[float, float, float, float, float]], start_ms: float,
             end_ms: float) -> dict[str, Any]:
    """Per event (weighted by each delta's events) of the deltas made visible
    between ``start_ms`` and ``end_ms``."""
    part = [x for x in seen if start_ms <= x[0] < end_ms]
    upper = [u for _, n, u, _, _ in part for _ in range(max(1, round(n)))]
    lower = [lo for _, n, _, lo, _ in part for _ in range(max(1, round(n)))]
    up, lo = percentiles(upper, (50, 99)), percentiles(lower, (50, 99))
    # the newest event of a delta -> the job emitting it, and emitted -> visible
    emit = percentiles([e for *_, e in part], (50, 99))
    commit = percentiles([lo - e for _, _, _, lo, e in part], (50, 99))
    return {"events": len(upper), "p50_ms": round(up["p50"], 1), "p99_ms": round(up["p99"], 1),
            "max_ms": round(max(upper, default=0), 1),
            "lower_bound_p50_ms": round(lo["p50"], 1), "lower_bound_p99_ms": round(lo["p99"], 1),
            "deltas": len(part),
            "newest_event_to_emitted_ms": {k: round(v, 1) for k, v in emit.items()},
            "emitted_to_visible_ms": {k: round(v, 1) for k, v in commit.items()}}


def run(bootstrap: str, n_backlog: int, live_s: float, loads: list[float],
        stores: tuple[str, ...] = ("sqlite", "redis"),
        fixed_rates: tuple[int, ...] = ()) -> dict[str, Any]:
    from features_scenario import Topics

    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.redis import RedisComponent

    topics = Topics(f"fresh{uuid.uuid4().hex[:6]}")
    topics.create(bootstrap)
    state = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
    comp = tiles_job(state, bootstrap, topics)
    comp.start(timeout=300)
    stop_count, counts = threading.Event(), {"n": 0.0}
    counter = threading.Thread(target=counted, args=(bootstrap, topics.out, stop_count, counts),
                               daemon=True)
    counter.start()
    ckpts: dict[int, tuple[float, float, bool]] = {}
    stop_polls = threading.Event()
    threading.Thread(target=checkpoints, args=(comp.addresses["rest"], stop_polls, ckpts),
                     daemon=True).start()
    result: dict[str, Any] = {"backlog_events": n_backlog, "users": USERS, "backlogs": []}
    try:
        assert comp.pid is not None
        for i in range(3):  # cold, warm-up, measured
            msgs = backlog(n_backlog, i * n_backlog, seed=i)
            base, cpu0 = counts["n"], tree_cpu_seconds(comp.pid)
            t0 = time.monotonic()  # from the first record sent: the job reads as they come
            send(bootstrap, topics.events, msgs)
            while counts["n"] < base + n_backlog and time.monotonic() - t0 < 600:
                time.sleep(0.05)
            secs = time.monotonic() - t0
            result["backlogs"].append({"seconds": round(secs, 2),
                                       "events_per_s": round(n_backlog / secs),
                                       "cpu_us_per_event": round(
                                           (tree_cpu_seconds(comp.pid) - cpu0) / n_backlog
                                           * 1e6,
                                           1)})
        stop_count.set()  # the count is for the backlogs: live, it would only load the machine
        rate = result["backlogs"][-1]["events_per_s"]
        result["job_events_per_s"] = rate
        if os.environ.get("MLMESH_BENCH_FRESH_RATE"):  # a fixed rate, to compare changes
            rate = int(os.environ["MLMESH_BENCH_FRESH_RATE"])
            result["rate_pinned"] = rate
        redis = RedisComponent(state, port=free_port(), name="bench-redis")
        redis.start()
        result["live"] = []
        first = 10 * n_backlog
        ctx = multiprocessing.get_context("spawn")
        for online in stores:  # one writer at a time, as deployed per store
            q, stop, ready = ctx.Queue(), ctx.Event(), ctx.Event()
            proc = ctx.Process(target=writer_process, args=(
                bootstrap, topics.out, str(state / online), online, redis.url, ready, stop, q))
            proc.start()
            ready.wait(180)
            time.sleep(3)
            # (load, events/s, start, end wall ms, CPU seconds of each part while
            # producing, seconds the job then needed to catch up)
            phases: list[tuple[float | None, float, float, float, dict[str, float], float]] = []

            def cpu_now(writer: int) -> dict[str, float]:
                assert comp.pid is not None
                return {"machine": machine_cpu_seconds(), "job": tree_cpu_seconds(comp.pid),
                        "writer": tree_cpu_seconds(writer),
                        "producer": self_cpu_seconds()}
            assert proc.pid is not None
            # a deployed writer is warm (its users cached, its code paths run once)
            produce(bootstrap, topics.events, int(rate * loads[0] * 5), first, rate * loads[0], 8)
            first += int(rate * loads[0] * 5)
            wait_job_caught_up(bootstrap, topics.prefix, topics.events)
            time.sleep(3)
            # fractions of the job's rate, then fixed rates (load None)
            steps: list[tuple[float | None, float]] = [(x, rate * x) for x in loads]
            steps += [(None, float(r)) for r in fixed_rates]
            for step, per_s in steps:
                n = int(per_s * live_s)
                start, used0 = time.time() * 1000, cpu_now(proc.pid)
                produce(bootstrap, topics.events, n, first, per_s, 9)
                used = {k: v - used0[k] for k, v in cpu_now(proc.pid).items()}
                first += n
                # the phase's last deltas visible; the next starts from quiet (a
                # phase that outran the job is drained first: drain_s)
                drain = wait_job_caught_up(bootstrap, topics.prefix, topics.events)
                time.sleep(3)
                phases.append((step, per_s, start, time.time() * 1000, used, drain))
            stop.set()
            _, visible, per_user, batches = q.get(timeout=120)
            proc.join(30)
            for step, per_s, start, end, used, drain in phases:
                result["live"].append({"store": online, "load": step,
                                       "events_per_s": round(per_s), "seconds": live_s,
                                       "drain_s": drain,
                                       **_latency(visible, start, end),
                                       "while_producing": diagnosis(
                                           batches, ckpts, start, start + live_s * 1000, used),
                                       "online_bytes_per_user": round(per_user)})
        redis.stop()
    finally:
        stop_count.set()
        stop_polls.set()
        comp.stop()
    return result


def _ratio(p: dict[str, Any]) -> dict[str, Any]:
    if p["load"] is None:
        return ratio(f"event -> served p99 at a fixed {p['events_per_s']:,} events/s, "
                     f"{p['store']} (upper bound), vs 1 s", p["p99_ms"], TARGET_P99_MS,
                     1.0 if p["events_per_s"] == HELD_RATE else None, "ms",
                     higher_is_better=False,
                     note="the target this 2-core machine can hold (#25: at half the job's "
                          "rate its cores are saturated); baseline = 1,000 ms")
    return ratio(f"event -> served p99 at {p['load']:.0%} of the job's rate, {p['store']} "
                 "(upper bound), vs the 1 s target", p["p99_ms"], TARGET_P99_MS,
                 1.0 if p["load"] == TARGET_LOAD else None, "ms", higher_is_better=False,
                 note="the target is absolute: baseline = 1,000 ms")


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    env = os.environ.get
    with broker() as bootstrap:
        result = run(bootstrap, int(env("MLMESH_BENCH_FRESH_BACKLOG", "300000")),
                     float(env("MLMESH_BENCH_FRESH_LIVE_S", "20")),
                     [float(x) for x in env("MLMESH_BENCH_FRESH_LOADS", "0.1,0.25,0.5").split(",")],
                     tuple(env("MLMESH_BENCH_FRESH_STORES", "sqlite,redis").split(",")),
                     tuple(int(x) for x in env("MLMESH_BENCH_FRESH_FIXED_RATES",
                                               str(HELD_RATE)).split(",") if x))
    result["ratios"] = [_ratio(p) for p in result["live"]]
    path = write("features_fresh", result)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
