"""A scripted event stream for the features job, and helpers to run it.

Events sit ~26 h in the past (so one flush event "now" closes every window,
24 h ones included, while staying inside topic retention). Out-of-order
arrivals stay within the watermark bound (on time by construction); late
events are sent only after the job has shown a watermark past them.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Producer
from features_reference import MIN, Ev, Key
from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import dead_letter_pb2, document_pb2, feature_update_pb2, user_event_pb2
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.localstack.base import free_port
from mlmesh.localstack.flink import FlinkJobComponent
from mlmesh.testing.kafka import consume_all
from mlmesh.testing.wait import wait_for

OUT_OF_ORDER_MS = 5000
SESSION_GAP_S = 300
FLUSH_USER = "zz-flush"
EVENT_PARTITIONS = 3
DOC_PARTITIONS = 2  # as many as the session cluster's parallelism: no reader without one


def _ts(ms: int) -> Timestamp:
    t = Timestamp()
    t.FromMilliseconds(ms)
    return t


@dataclass
class Topics:
    prefix: str

    @property
    def events(self) -> str:
        return f"{self.prefix}.user_events"

    @property
    def docs(self) -> str:
        return f"{self.prefix}.documents"

    @property
    def out(self) -> str:
        return f"{self.prefix}.feature_updates"

    def create(self, bootstrap: str) -> None:
        ensure_topics(bootstrap, [
            TopicSpec(self.events, EVENT_PARTITIONS), TopicSpec(self.events + ".dlq", 1),
            TopicSpec(self.docs, DOC_PARTITIONS), TopicSpec(self.docs + ".dlq", 1),
            TopicSpec(self.out, 3)])


@dataclass
class Stream:
    base: int
    events: list[Ev] = field(default_factory=list)  # unique, on time (what must count)
    docs: list[Ev] = field(default_factory=list)
    sends: list[tuple[str, bytes, int]] = field(default_factory=list)  # (topic kind, key, ts)
    payloads: list[tuple[str, str, bytes, int]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def flush_ts(self) -> int:
        return self.base + 26 * 60 * MIN - 3 * MIN

    @property
    def final_watermark(self) -> int:
        return self.flush_ts - OUT_OF_ORDER_MS - 1


def event_bytes(e: Ev) -> bytes:
    return user_event_pb2.UserEvent(event_id=e.event_id, user_id=e.user_id,
                                    event_time=_ts(e.ts), action=e.action,  # type: ignore[arg-type]
                                    amount=e.amount).SerializeToString()


def doc_bytes(d: Ev) -> bytes:
    return document_pb2.Document(doc_id=d.event_id, user_id=d.user_id, text="hello",
                                 created_at=_ts(d.ts)).SerializeToString()


def build_stream(seed: int = 7, users: int = 6, per_user: int = 25) -> Stream:
    rnd = random.Random(seed)
    base = (int(time.time() * 1000) - 26 * 60 * MIN) // MIN * MIN
    s = Stream(base)
    for u in range(users):
        t = base + rnd.randint(0, 60_000)
        for i in range(per_user):
            t += rnd.choice([rnd.randint(1_000, 40_000), rnd.randint(1_000, 40_000),
                             SESSION_GAP_S * 1000 + rnd.randint(1, 60_000)] if i == 12
                            else [rnd.randint(1_000, 40_000)])
            s.events.append(Ev(f"e-{u}-{i}", f"user-{u}", t, rnd.randint(1, 7),
                               round(rnd.uniform(0, 200), 2)))
        for j in range(rnd.randint(1, 4)):
            s.docs.append(Ev(f"d-{u}-{j}", f"user-{u}", base + rnd.randint(0, 20 * MIN), 0, 0.0))
    s.events.sort(key=lambda e: e.ts)
    s.docs.sort(key=lambda e: e.ts)
    order = list(s.events)
    for i in range(1, len(order) - 1, 9):  # local swaps: out of order, within the bound
        a, b = order[i], order[i + 1]
        if 0 < b.ts - a.ts < OUT_OF_ORDER_MS - 1000:
            order[i], order[i + 1] = b, a
    for i, e in enumerate(order):
        s.payloads.append(("events", e.user_id, event_bytes(e), e.ts))
        if i % 23 == 5:  # the same event again, right after: must count once
            s.payloads.append(("events", e.user_id, event_bytes(e), e.ts))
            s.duplicates.append(e.event_id)
    for d in s.docs:
        s.payloads.append(("docs", d.user_id, doc_bytes(d), d.ts))
    s.payloads.append(("docs", s.docs[0].user_id, doc_bytes(s.docs[0]), s.docs[0].ts))
    return s


def producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                     "linger.ms": 5, "enable.idempotence": True})


def user_partition(kind: str, key: str) -> int | None:
    """``user-N`` on partition N mod the topic's partitions: a few users that
    still put data on every partition, as many users do (murmur2 puts this
    stream's six on two of three). The job runs without an idle timeout, so a
    partition with no data would hold its watermark back. None: the producer's
    partitioner."""
    prefix, _, n = key.partition("-")
    if prefix != "user" or not n.isdigit():
        return None
    return int(n) % (EVENT_PARTITIONS if kind == "events" else DOC_PARTITIONS)


def send(p: Producer, topics: Topics, items: list[tuple[str, str, bytes, int]],
         partition: int | None = None) -> None:
    for kind, key, value, ts in items:
        topic = topics.events if kind == "events" else topics.docs
        part = partition if partition is not None else user_partition(kind, key)
        kwargs = {"partition": part} if part is not None else {}
        p.produce(topic, value, key=key.encode(), timestamp=ts, **kwargs)
    assert p.flush(30) == 0


def send_flush(p: Producer, topics: Topics, s: Stream) -> None:
    """Flush events on every partition, twice: the second watermark advance
    fires the zero-row timers registered while handling the first one."""
    for round_, ts in enumerate((s.flush_ts - 2000, s.flush_ts)):
        for part in range(EVENT_PARTITIONS):
            e = Ev(f"flush-{round_}-{part}", FLUSH_USER, ts, 1, 0.0)
            send(p, topics, [("events", FLUSH_USER, event_bytes(e), e.ts)], partition=part)
        for part in range(DOC_PARTITIONS):
            d = Ev(f"flush-doc-{round_}-{part}", FLUSH_USER, ts, 0, 0.0)
            send(p, topics, [("docs", FLUSH_USER, doc_bytes(d), d.ts)], partition=part)
        time.sleep(2.0)


def job_args(topics: Topics, checkpoint_ms: int = 500) -> list[str]:
    """The windows job on this scenario's topics (its results are exact), with
    the windows mode's default of no idle timeout. With one (10 s, as these
    tests once ran), a partition idle before a burst dropped out of the
    watermark, another reader's records moved the windows' watermark on, and
    the idle partition's first records then reached a window behind it: a
    window operator drops those silently (the on-time filter before it had
    judged them by its own reader's watermark). Seen as a short count in CI."""
    return ["--mode", "windows", "--events-topic", topics.events,
            "--documents-topic", topics.docs,
            "--output-topic", topics.out, "--group-id", topics.prefix,
            "--txn-prefix", topics.prefix, "--session-gap-s", str(SESSION_GAP_S),
            "--out-of-orderness-ms", str(OUT_OF_ORDER_MS),
            "--checkpoint-interval-ms", str(checkpoint_ms), "--idle-timeout-ms", "0"]


def job(state_dir: Path, bootstrap: str, topics: Topics,
        checkpoint_ms: int = 500) -> FlinkJobComponent:
    return FlinkJobComponent(state_dir, bootstrap, rest_port=free_port(),
                             name=f"features-job-{topics.prefix}",
                             args=job_args(topics, checkpoint_ms))


def feature_updates(bootstrap: str, topic: str) -> list[feature_update_pb2.FeatureUpdate]:
    return [feature_update_pb2.FeatureUpdate.FromString(v or b"")
            for _, v in consume_all(bootstrap, topic, timeout=60)]


def as_results(updates: list[feature_update_pb2.FeatureUpdate]) -> Iterator[
        tuple[Key, dict[str, float]]]:
    for u in updates:
        if u.user_id != FLUSH_USER:
            yield (u.user_id, u.feature_view, u.window_end.ToMilliseconds()), dict(u.values)


def dead_letters(bootstrap: str, topic: str) -> list[dead_letter_pb2.DeadLetter]:
    return [dead_letter_pb2.DeadLetter.FromString(v or b"")
            for _, v in consume_all(bootstrap, topic, timeout=60)]


@dataclass
class JobRun:
    bootstrap: str
    topics: Topics
    stream: Stream
    expected: dict[Key, dict[str, float]]
    observed: list[tuple[Key, dict[str, float]]]
    late_event: Ev
    late_doc: Ev
    state_dir: Path


def assert_exact(observed: list[tuple[Key, dict[str, float]]],
                 expected: dict[Key, dict[str, float]],
                 dead: Sequence[dead_letter_pb2.DeadLetter] = ()) -> None:
    """Every expected window result, equal to the reference, and none
    committed twice (a replay after a failure would show as a second copy).
    ``dead``: the run's dead letters, shown with a mismatch (a record judged
    late is there; one a window operator dropped as late is not)."""
    real = [k for k, v in observed if any(v.values())]
    assert len(real) == len(set(real)), "a window result was committed twice"
    got = dict(observed)
    assert set(got) == set(expected), (sorted(set(expected) - set(got)),
                                       sorted(set(got) - set(expected)))
    wrong = [(key, name, got[key].get(name), value) for key, want in sorted(expected.items())
             for name, value in want.items()
             if not math.isclose(got[key].get(name, math.nan), value, rel_tol=1e-9,
                                 abs_tol=1e-9)]
    assert not wrong, ("(key, feature, got, want)", wrong[:10], f"{len(wrong)} wrong",
                       "dead letters", [(d.error_class, d.reason) for d in dead][:10])


def first_half_committed(p: Producer, bootstrap: str, topics: Topics, s: Stream) -> int:
    """The stream's first half sent and some of its results committed, then a
    moment for a transaction to be in flight: the results committed before
    a failure is injected."""
    send(p, topics, s.payloads[:len(s.payloads) // 2])
    wait_for(lambda: len(feature_updates(bootstrap, topics.out)) > 20, 180,
             "first committed results")
    time.sleep(1.0)  # a transaction in flight at the kill, not yet committed
    return len(feature_updates(bootstrap, topics.out))


def all_results(bootstrap: str, topics: Topics, expected: dict[Key, dict[str, float]],
                what: str) -> list[tuple[Key, dict[str, float]]]:
    """Every committed window result once all expected keys are there (and a
    moment more, for any wrong extra one to arrive)."""
    wait_for(lambda: set(expected) <= {k for k, _ in as_results(
        feature_updates(bootstrap, topics.out))}, 300, what)
    time.sleep(3.0)
    return list(as_results(feature_updates(bootstrap, topics.out)))
