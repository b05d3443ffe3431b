"""The feature writer's batch step: rows become visible online first (the
latency serving cares about is taken there), then the offline append; every
row is observed once; an undecodable record is rejected with its reason and
never blocks the good ones. The Feast store is an in-memory fake here (the
integration suite writes to real Feast)."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from features.store import FeatureRow
from features.writer.app import BatchWriter
from mlmesh.events.v1 import feature_update_pb2


class FakeStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[FeatureRow]]] = []

    def write_online(self, rows: list[FeatureRow]) -> int:
        self.calls.append(("online", list(rows)))
        return len(rows)

    def write_offline(self, rows: list[FeatureRow]) -> None:
        self.calls.append(("offline", list(rows)))


class Msg:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value


def _update(user: str, end_ms: int) -> bytes:
    def ts(ms: int) -> Timestamp:
        t = Timestamp()
        t.FromMilliseconds(ms)
        return t

    return feature_update_pb2.FeatureUpdate(
        user_id=user, feature_view="user_activity_1h", window_start=ts(end_ms - 3_600_000),
        window_end=ts(end_ms), values={"event_count_1h": 3.0},
        emitted_at=ts(end_ms + 10)).SerializeToString()


def test_online_first_then_offline_and_each_row_observed_once() -> None:
    store = FakeStore()
    seen: list[tuple[str, float]] = []
    writer = BatchWriter(store, observe=lambda row, s: seen.append((row.user_id, s)))  # type: ignore[arg-type]
    batch: list[Any] = [Msg(_update("u1", 3_600_000)), Msg(b"\xff\xfe not a proto"),
                        Msg(_update("u2", 7_200_000))]
    rejected = writer(batch)
    assert [kind for kind, _ in store.calls] == ["online", "offline"]
    assert [r.user_id for r in store.calls[0][1]] == ["u1", "u2"]
    assert store.calls[0][1] == store.calls[1][1]
    assert sorted(u for u, _ in seen) == ["u1", "u2"]
    assert all(s >= 0 for _, s in seen)
    assert len(rejected) == 1 and rejected[0].msg is batch[1]


class FakeTiles:
    def __init__(self) -> None:
        self.deltas: list[Any] = []

    def write(self, deltas: list[Any]) -> Any:
        from features.tile_store import WriteStats

        self.deltas += deltas
        return WriteStats(users=len({d.user_id for d in deltas}), applied=len(deltas),
                          visible_ms=123_456.0)


class KafkaMsg(Msg):
    def __init__(self, value: bytes, partition: int, offset: int) -> None:
        super().__init__(value)
        self._pos = (partition, offset)

    def partition(self) -> int:
        return self._pos[0]

    def offset(self) -> int:
        return self._pos[1]


def _delta(user: str, values: dict[str, float]) -> bytes:
    start = Timestamp()
    start.FromMilliseconds(60_000)
    return feature_update_pb2.FeatureUpdate(user_id=user, feature_view="tile_delta_1m",
                                            window_start=start, values=values).SerializeToString()


def test_tile_deltas_go_to_the_tiles_with_their_kafka_position() -> None:
    store, tiles = FakeStore(), FakeTiles()
    seen: list[tuple[int, float]] = []
    writer = BatchWriter(store, tiles=tiles,  # type: ignore[arg-type]
                         on_tiles=lambda ds, visible: seen.append((len(ds), visible)))
    good = {"events": 2.0, "amount": 3.5, "min_ts": 60_100.0, "max_ts": 60_900.0}
    batch: list[Any] = [KafkaMsg(_delta("u1", good), 2, 41),
                        KafkaMsg(_delta("u1", {"events": 1.0}), 2, 42),  # no event-time span
                        KafkaMsg(_delta("", good), 2, 43)]
    rejected = writer(batch)
    assert [(d.user_id, d.partition, d.offset, d.min_ts, d.max_ts, d.events)
            for d in tiles.deltas] == [("u1", 2, 41, 60_100, 60_900, 2)]
    assert tiles.deltas[0].tile_start_ms == 60_000
    assert [r.msg for r in rejected] == batch[1:]
    assert "min_ts" in rejected[0].reason and "user_id" in rejected[1].reason
    assert store.calls == [] and seen == [(1, 123_456.0)]  # visible: when the tiles said
