"""``GroupScan`` driven by a fake admin listing and fake offset clients: the
patterns filter, the cap (groups already held first), idle groups asked again
after ``recheck_s``, and a group that disappears from the listing losing its
client. (Real brokers: tests/integration/ingest/test_lag_meter.py and
tests/integration/monitor/test_lag_alert.py.)"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException

from mlmesh.kafka.committed import CommittedOffsets, GroupScan, TopicPart


class FakeAdmin:
    def __init__(self, groups: list[str]) -> None:
        self.listed = groups

    def list_consumer_groups(self, request_timeout: float) -> Any:
        valid = [SimpleNamespace(group_id=g) for g in self.listed]
        return SimpleNamespace(result=lambda _timeout: SimpleNamespace(valid=valid))


class FakeOffsets:
    def __init__(self) -> None:
        self.open: set[str] = set()
        self.answers: dict[str, dict[TopicPart, int] | KafkaException] = {}

    def committed(self, group: str, parts: list[TopicPart]) -> dict[TopicPart, int]:
        self.open.add(group)
        got = self.answers.get(group, {})
        if isinstance(got, KafkaException):
            raise got
        return {tp: off for tp, off in got.items() if tp in parts}

    @property
    def groups(self) -> list[str]:
        return sorted(self.open)

    def forget(self, group: str) -> None:
        self.open.discard(group)


def scan(groups: list[str], **kw: Any) -> tuple[GroupScan, FakeAdmin, FakeOffsets, list[float]]:
    admin, offsets, now = FakeAdmin(groups), FakeOffsets(), [0.0]
    s = GroupScan(cast(Any, admin), cast(CommittedOffsets, offsets), clock=lambda: now[0], **kw)
    return s, admin, offsets, now


def test_patterns_pick_the_groups() -> None:
    s, *_ = scan(["mlmesh-monitor", "embedder", "other-app", "mlmesh-x"],
                 patterns=[" mlmesh-* ", "embedder", ""])
    assert s() == ["embedder", "mlmesh-monitor", "mlmesh-x"]
    s.patterns = []
    assert len(s()) == 4  # no pattern: every group


def test_the_cap_keeps_the_groups_already_held() -> None:
    s, _admin, offsets, _now = scan([f"g{i:02d}" for i in range(10)], limit=3)
    offsets.open = {"g07", "g09"}
    assert s() == ["g07", "g09", "g00"]
    assert s.left_out == 7


def test_idle_groups_wait_recheck_s_and_lose_their_client() -> None:
    s, _admin, offsets, now = scan(["a", "b"], recheck_s=60)
    offsets.open = {"a", "b"}
    s.idle("b")
    assert offsets.groups == ["a"]
    assert s() == ["a"]
    now[0] = 59.9
    assert s() == ["a"]
    now[0] = 60.0
    assert s() == ["a", "b"]


def test_a_group_gone_from_the_listing_loses_its_client() -> None:
    s, admin, offsets, _now = scan(["a", "b"])
    offsets.open = {"a", "b"}
    s.idle("b")
    admin.listed = ["a"]
    assert s() == ["a"]
    admin.listed = []
    assert s() == [] and offsets.groups == []
    assert s._idle == {}  # nothing kept for groups that are gone


def test_exclusions_win_over_patterns() -> None:
    s, *_ = scan(["chaos-x", "ingest-lag-1", "embedder", "mlmesh-monitor"],
                 exclude=["chaos-*", "ingest-lag-*"])
    assert s() == ["embedder", "mlmesh-monitor"]
    s.patterns = ["*"]
    assert s() == ["embedder", "mlmesh-monitor"]


def test_answers_leave_idle_groups_out_and_hand_failures_to_the_caller() -> None:
    s, _admin, offsets, _now = scan(["busy", "broken", "quiet"], recheck_s=60)
    failure = KafkaException(KafkaError(KafkaError._TIMED_OUT))
    offsets.answers = {"busy": {("t", 0): 5, ("other", 0): 1}, "broken": failure}
    got = dict(s.answers([("t", 0), ("t", 1)]))
    assert got == {"broken": failure, "busy": {("t", 0): 5}}
    assert s() == ["broken", "busy"]  # "quiet" had no offsets there: idle for recheck_s
    assert "quiet" not in offsets.groups


def test_named_groups_are_asked_as_named_and_never_marked_idle() -> None:
    s, _admin, offsets, _now = scan(["listed"])
    offsets.answers = {"named": {("t", 0): 1}}
    assert dict(s.answers([("t", 0)], named=["named", "none-yet"])) == {"named": {("t", 0): 1}}
    assert s._idle == {}


def test_answers_stop_between_groups() -> None:
    s, _admin, offsets, _now = scan(["a", "b"])
    offsets.answers = {"a": {("t", 0): 1}, "b": {("t", 0): 2}}
    stop = threading.Event()
    seen = []
    for group, _got in s.answers([("t", 0)], stop=stop):
        seen.append(group)
        stop.set()
    assert seen == ["a"]
