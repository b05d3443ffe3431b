"""The events of ``bench/features.py`` and their event-time layout: one-hour
backlogs one after another, then the paced live phase, placed against the
clock's hours so that every run meets the same window boundaries."""

from __future__ import annotations

import random

from confluent_kafka import Producer

MIN = 60_000
# Where the live phase meets an hour boundary (event minutes = wall seconds
# into it): after the benchmark's SETTLE_S, inside the default 30 s.
HOUR_AT_LIVE_MIN = 20
# Event-time layout: each backlog spans BACKLOG_MIN minutes; the next backlog,
# and after the last one the live phase, start GAP_MIN minutes after its end.
BACKLOG_MIN, GAP_MIN = 60, 3


def events(n: int, users: int, start: int, step_ms: float, seed: int) -> list[tuple[str, int,
                                                                                     bytes]]:
    from features_reference import Ev
    from features_scenario import event_bytes

    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ts = start + int(i * step_ms)
        user = f"user-{rnd.randrange(users)}"
        out.append((user, ts, event_bytes(Ev(f"e{seed}-{i}", user, ts, rnd.randint(1, 7),
                                             round(rnd.uniform(0, 100), 2)))))
    return out


def new_producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                     "linger.ms": 20, "batch.num.messages": 10000, "compression.type": "lz4"})


def produce(bootstrap: str, topic: str, rows: list[tuple[str, int, bytes]],
             partition: int | None = None, producer: Producer | None = None) -> None:
    p = producer or new_producer(bootstrap)
    for user, ts, value in rows:
        while True:
            try:
                if partition is None:
                    p.produce(topic, value, key=user.encode(), timestamp=ts)
                else:
                    p.produce(topic, value, key=user.encode(), timestamp=ts, partition=partition)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(60) == 0


def produce_backlog(bootstrap: str, topic: str, n: int, users: int, start: int, seed: int) -> int:
    """``n`` events over one hour of event time from ``start``, then one marker
    per partition two minutes later (the watermark passes the hour only after
    every partition has); returns the hour's end."""
    produce(bootstrap, topic, events(n, users, start, BACKLOG_MIN * MIN / n, seed))
    end = start + BACKLOG_MIN * MIN
    for part in range(3):
        produce(bootstrap, topic, events(1, 1, end + 2 * MIN, 0, 100 * seed + part),
                 partition=part)
    return end


def layout_start(now_ms: int, warmup: int) -> int:
    """Event time of the first backlog's start. The backlogs follow one
    another (an hour each, 3 minutes apart), then the live phase (one event
    minute per wall second), all in the past: Kafka refuses record timestamps
    more than an hour ahead of its clock. The layout is fixed against the
    clock's hours, so every run puts the same window boundaries in the live
    phase: an hour boundary HOUR_AT_LIVE_MIN minutes into it, where the
    1-hour and 24-hour windows of every user of the backlog fire together."""
    hour = 60 * MIN
    live_from_start = ((warmup + 2) * (BACKLOG_MIN + GAP_MIN) + HOUR_AT_LIVE_MIN) * MIN
    base = (now_ms - (warmup + 5) * hour) // hour * hour
    return base + (-live_from_start) % hour


