"""Under concurrent publishers, each user's events stay in one partition and in
the order that user's publisher sent them."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Consumer

from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event

USERS_PER_WORKER = 5
WORKERS = 4
BATCHES = 10
PER_BATCH = 3


def _publish(ing, worker: int) -> int:
    users = [f"w{worker}-user{i}" for i in range(USERS_PER_WORKER)]
    seq = 0
    for _ in range(BATCHES):
        batch = []
        for _ in range(PER_BATCH):
            for u in users:
                batch.append(event(u, seq))
                seq += 1
        resp = ing.stub.Publish(pb.PublishRequest(events=batch), timeout=30)
        assert resp.accepted == len(batch)
    return seq


def test_order_per_user_is_preserved(ingest_factory, kafka_bootstrap):
    ing = ingest_factory(partitions=6)
    with ThreadPoolExecutor(WORKERS) as pool:
        total = sum(pool.map(lambda w: _publish(ing, w), range(WORKERS)))

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "order-check",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([ing.topics["events"]])
    partitions_of: dict[str, set[int]] = defaultdict(set)
    seqs: dict[str, list[int]] = defaultdict(list)
    got = 0
    while got < total:
        msg = consumer.poll(10)
        assert msg is not None, f"only {got}/{total} events arrived"
        assert msg.error() is None
        ev = user_event_pb2.UserEvent.FromString(msg.value())
        partitions_of[ev.user_id].add(msg.partition())
        seqs[ev.user_id].append(int(ev.attributes["seq"]))
        got += 1
    consumer.close()
    assert len(seqs) == USERS_PER_WORKER * WORKERS
    for user, values in seqs.items():
        assert len(partitions_of[user]) == 1, user
        assert values == sorted(values), f"{user} out of order: {values}"
    assert len({p for ps in partitions_of.values() for p in ps}) > 1  # really spread out
