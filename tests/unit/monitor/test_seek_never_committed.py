"""faust's seek back to committed sends never-committed source partitions to
their first offset (aiokafka alone leaves them where the fetcher got to)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from monitor.seek import MonitorApp, SeekFromStartConsumer, SeekFromStartTransport, never_committed

APP = "monitor-abc"
PRED0 = TopicPartition("t.predictions", 0)
PRED1 = TopicPartition("t.predictions", 1)
PRED2 = TopicPartition("t.predictions", 2)
LABELS0 = TopicPartition("t.labels", 0)
CHANGELOG0 = TopicPartition(f"{APP}-agg-changelog", 0)
LEADER0 = TopicPartition(f"{APP}-__assignor-__leader", 0)


class FakeThread:
    """The consumer thread's two calls: aiokafka's answer and the seeks made."""

    def __init__(self, committed: Mapping[TopicPartition, int | None]) -> None:
        self.committed = dict(committed)
        self.to_beginning: list[TopicPartition] = []

    async def seek_to_committed(self) -> Mapping[TopicPartition, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.to_beginning.extend(partitions)


def _consumer(thread: FakeThread) -> Any:
    consumer: Any = object.__new__(SeekFromStartConsumer)
    consumer.app = SimpleNamespace(conf=SimpleNamespace(id=APP))
    consumer._thread = thread
    return consumer


def test_only_uncommitted_source_partitions_are_selected() -> None:
    committed = {PRED0: None, PRED1: 0, PRED2: 57, LABELS0: None,
                 CHANGELOG0: None, LEADER0: None}
    assert never_committed(committed, APP) == [LABELS0, PRED0, PRED1]


def test_seek_to_committed_sends_them_to_the_first_offset() -> None:
    thread = FakeThread({PRED0: None, PRED1: 12, CHANGELOG0: None})
    got = asyncio.run(_consumer(thread).seek_to_committed())
    assert thread.to_beginning == [PRED0]
    assert got == {PRED0: None, PRED1: 12, CHANGELOG0: None}  # faust's bookkeeping unchanged


def test_nothing_is_sought_when_every_source_partition_has_a_commit() -> None:
    thread = FakeThread({PRED0: 3, PRED1: 12, CHANGELOG0: None})
    asyncio.run(_consumer(thread).seek_to_committed())
    assert thread.to_beginning == []


def test_the_monitor_app_builds_its_consumer_from_this_transport() -> None:
    app = MonitorApp("monitor-abc", broker="kafka://127.0.0.1:1", autodiscover=False)
    assert isinstance(app.transport, SeekFromStartTransport)
    assert type(app.consumer) is SeekFromStartConsumer
