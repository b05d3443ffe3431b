"""A live scripted stream for the tiles job (event times in the last hour,
out of order, duplicated, a session gap, documents), the job and the real
feature writer loop into Feast, run once for the tiles tests."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from features_reference import Ev as WEv
from features_scenario import (
    Topics,
    dead_letters,
    doc_bytes,
    event_bytes,
    producer,
    send,
    wait_for,
)
from tiles_reference import MIN, Ev

from features.store import FeastStore
from features.tile_store import TileStore
from features.writer.app import BatchWriter
from mlmesh.common.lifecycle import StopSignal
from mlmesh.kafka.config import consumer_config, producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.sink import SinkLoop
from mlmesh.localstack.base import free_port
from mlmesh.localstack.flink import FlinkJobComponent

GAP_S = 300


@dataclass
class LiveStream:
    now: int
    arrivals: dict[str, list[Ev]] = field(default_factory=dict)  # per user, in send order
    payloads: list[tuple[str, str, bytes, int]] = field(default_factory=list)
    duplicates: int = 0

    def newest(self, user: str) -> int:
        return max(e.ts for e in self.arrivals[user])


def live_stream(seed: int = 5, users: int = 5, per_user: int = 30) -> LiveStream:
    rnd = random.Random(seed)
    now = int(time.time() * 1000)
    s = LiveStream(now)
    sends: list[tuple[int, str, Ev]] = []
    for u in range(users):
        user = f"tu-{u}"
        t = now - 55 * MIN + rnd.randint(0, 60_000)
        evs: list[Ev] = []
        for i in range(per_user):
            t += (GAP_S * 1000 + rnd.randint(1, 60_000) if i == per_user // 2
                  else rnd.randint(500, 50_000))
            evs.append(Ev(f"{user}-e{i}", t, rnd.randint(1, 7), round(rnd.uniform(0, 300), 2)))
            if rnd.random() < 0.2:
                evs.append(Ev(f"{user}-d{i}", t + rnd.randint(-3000, 3000), 0, 0.0))
        evs = [e for e in evs if e.ts < now - 60_000]
        order = list(evs)
        for i in range(1, len(order) - 1, 3):  # out of order
            order[i], order[i + 1] = order[i + 1], order[i]
        for i in range(2, len(order), 7):  # the same event again, later
            order.insert(min(len(order), i + 3), order[i])
            s.duplicates += 1
        s.arrivals[user] = order
        sends += [(i, user, e) for i, e in enumerate(order)]
    sends.sort(key=lambda x: x[0])  # users interleaved
    for _, user, e in sends:
        kind = "docs" if e.action == 0 else "events"
        w = WEv(e.id, user, e.ts, e.action, e.amount)
        s.payloads.append((kind, user, doc_bytes(w) if kind == "docs" else event_bytes(w), e.ts))
    return s


def tiles_job(state: Path, bootstrap: str, topics: Topics) -> FlinkJobComponent:
    return FlinkJobComponent(
        state, bootstrap, rest_port=free_port(), name=f"tiles-job-{topics.prefix}",
        args=["--mode", "tiles", "--events-topic", topics.events,
              "--documents-topic", topics.docs, "--output-topic", topics.out,
              "--group-id", topics.prefix, "--txn-prefix", topics.prefix])


class Writer:
    """The feature writer's loop (SinkLoop + BatchWriter + TileStore) in a thread."""

    def __init__(self, bootstrap: str, topic: str, feast: FeastStore, group: str = "") -> None:
        self.tiles = TileStore(feast, GAP_S * 1000)
        self.stop = StopSignal()
        self.loop = SinkLoop(
            consumer_config=consumer_config(bootstrap, group or f"w-{uuid.uuid4().hex[:6]}",
                                            "test-writer"),
            topics=[topic], handle_batch=BatchWriter(feast, tiles=self.tiles), service="test",
            stop=self.stop, dlq_producer=MeshProducer(producer_config(bootstrap, "t")),
            batch_size=500, poll_timeout=0.05, on_rebalance=self.tiles.forget)
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


@dataclass
class TilesRun:
    bootstrap: str
    topics: Topics
    stream: LiveStream
    feast: FeastStore
    writer: Writer
    late: Ev
    restored: bool
    state: Path


def run_tiles(bootstrap: str, state: Path) -> TilesRun:
    """Half the stream, SIGKILL the job, the rest while it is down, restart
    from its checkpoint; a bad payload and an event beyond retention."""
    topics = Topics(f"t{uuid.uuid4().hex[:8]}")
    topics.create(bootstrap)
    s = live_stream()
    feast = FeastStore(state / "writer")
    feast.open()
    writer = Writer(bootstrap, topics.out, feast)
    p = producer(bootstrap)
    comp = tiles_job(state, bootstrap, topics)
    comp.start(timeout=240)
    try:
        half = len(s.payloads) // 2
        send(p, topics, s.payloads[:half])
        wait_for(lambda: writer.loop.stats.consumed > 10, 120, "first tile deltas")
        time.sleep(1.0)
        comp.kill()
        send(p, topics, s.payloads[half:])
        comp = tiles_job(state, bootstrap, topics)
        comp.start(timeout=240)
        restored = comp.restored_from is not None

        def settled() -> bool:
            got = writer.tiles.read(list(s.arrivals))
            return all(st is not None and st.newest_ms == s.newest(u) for u, st in got.items())

        wait_for(settled, 180, "every user's newest event served")
        # the watermark is past the stream now (after a restore it starts unset)
        late = Ev("late-1", s.now - 26 * 60 * MIN, 4, 999.0)
        send(p, topics, [("events", "tu-0", event_bytes(WEv(late.id, "tu-0", late.ts, 4, 999.0)),
                          late.ts),
                         ("events", "", b"\xff\x01not-a-protobuf", s.now)])
        wait_for(lambda: len(dead_letters(bootstrap, topics.events + ".dlq")) >= 2, 60,
                 "the bad and the late record dead-lettered")
        time.sleep(2.0)  # anything further (wrong) would arrive by now
    finally:
        comp.stop()
    return TilesRun(bootstrap, topics, s, feast, writer, late, restored, state)
