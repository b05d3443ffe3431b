"""A user_id lands on the partition Java's default partitioner would choose:
murmur2(key) & 0x7fffffff % partitions (Kafka's Utils.murmur2, reimplemented
here independently of librdkafka)."""

from __future__ import annotations

from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event
from mlmesh.testing.kafka import consume_all


def java_murmur2(data: bytes) -> int:
    """org.apache.kafka.common.utils.Utils.murmur2, as a signed 32-bit int."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length % 4
    base = length & ~3
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions


def test_reference_murmur2_matches_kafka_test_vectors():
    # Vectors from Kafka's UtilsTest.testMurmur2.
    assert java_murmur2(b"21") == -973932308
    assert java_murmur2(b"foobar") == -790332482
    assert java_murmur2(b"a-little-bit-long-string") == -985981536
    assert java_murmur2(b"a-little-bit-longer-string") == -1486304829
    assert java_murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert java_murmur2(b"abc") == 479470107


def test_user_lands_where_java_would_put_it(ingest_factory, kafka_bootstrap):
    partitions = 6
    ing = ingest_factory(partitions=partitions)
    users = [f"user-{i}" for i in range(60)] + ["a", "ab", "abc", "u:1.x-y_z"]
    resp = ing.stub.Publish(pb.PublishRequest(events=[event(u) for u in users]), timeout=30)
    assert resp.accepted == len(users)
    for r, u in zip(resp.results, users, strict=True):
        assert r.partition == java_partition(u.encode(), partitions), u
    # and what the broker holds agrees with the reported partitions
    seen = {user_event_pb2.UserEvent.FromString(v).user_id
            for _k, v in consume_all(kafka_bootstrap, ing.topics["events"])}
    assert seen == set(users)
