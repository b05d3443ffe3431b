"""A faust consumer that reads only committed data (``read_committed``, which
faust sets only in its own exactly-once mode: :class:`CommittedReadsThread`) and
whose "seek back to committed" also covers partitions that were never committed.

faust re-delivers what it dropped during a rebalance by seeking every assigned
partition back to its committed offset (``Consumer.perform_seek``: after table
recovery, and whenever a fetch finds the flow stopped, with the stream queues
cleared). aiokafka's ``seek_to_committed`` only seeks partitions whose
committed offset is above 0, so a source partition the group never committed
(a first start, or a restart after a SIGKILL with nothing committed yet) stays
wherever its fetcher got to: records fetched and then dropped in between are
never read again. A CI run lost a whole uncommitted batch that way. Here such
a partition is sent back to its first offset instead, the point
``auto_offset_reset="earliest"`` would have read it from; whatever was already
folded in is a replay the per-record offset watermark skips
(:mod:`monitor.state`).

faust's own topics (changelogs, the assignor's leader topic: every one named
``<app id>-...``) are left to faust: table recovery positions those itself.

Offset gaps (:func:`add_gap`): a topic written in transactions has a marker
after every transaction, so the offsets the consumer reads skip one each
time. faust records each skip in an interval tree so that the commit can pass
over it, and after each one rebuilds the whole tree (``merge_overlaps``), whose
size grows until the next commit chops it: on the features job's
``feature_updates`` (a marker every few records) that took 70% of the busy
time and held the monitor near 1,000 records/s against 8,000 on the same
records without markers. Here a new gap merges only with the intervals it
overlaps, which gives the same tree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from intervaltree import IntervalTree

log = logging.getLogger(__name__)


def never_committed(committed: Mapping[Any, int | None], app_id: str) -> list[Any]:
    """Source partitions (not faust's ``<app id>-...`` topics) without a
    committed position (None, or 0, which aiokafka does not seek to either)."""
    internal = f"{app_id}-"
    return sorted((tp for tp, offset in committed.items()
                   if not offset and not tp.topic.startswith(internal)),
                  key=lambda tp: (tp.topic, tp.partition))


def add_gap(tree: IntervalTree, begin: int, end: int) -> None:
    """Add ``[begin, end)`` to a tree of disjoint intervals, merged with those
    it overlaps: the tree ``tree.addi(begin, end); tree.merge_overlaps()``
    gives, in time logarithmic in the tree's size rather than linear."""
    overlapping = tree.overlap(begin, end)
    for iv in overlapping:
        begin, end = min(begin, iv.begin), max(end, iv.end)
        tree.remove(iv)
    tree.addi(begin, end)


class CommittedReadsThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust reads ``read_committed`` only in its own exactly-once mode; the
    monitor must never count a record of an aborted upstream transaction (the
    features job's, an exactly-once producer's), so its consumer always does."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka takes the level at construction and hands it to its fetcher
        # in start(); faust builds the consumer with no way to pass it
        consumer._isolation_level = "read_committed"
        return consumer


class SeekFromStartConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return CommittedReadsThread(self, loop=self.loop, beacon=self.beacon)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await super().seek_to_committed()
        fresh = never_committed(committed, self.app.conf.id)
        if fresh:
            log.info("no committed offset: reading from the first offset",
                     extra={"partitions": [f"{tp.topic}[{tp.partition}]" for tp in fresh]})
            await self._thread.seek_to_beginning(*fresh)
        return committed

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # faust's Consumer._add_gap, but merging incrementally (module doc)
        committed = self._committed_offset[tp]
        if committed is not None:
            offset_from = max(offset_from, committed + 1)
        if offset_from <= offset_to:  # intervaltree intervals exclude the end
            add_gap(self._gap[tp], offset_from, offset_to + 1)


class SeekFromStartTransport(faust_aiokafka.Transport):
    Consumer = SeekFromStartConsumer


class MonitorApp(faust.App):
    """faust.App on the transport above (the producer transport is unchanged)."""

    def _new_transport(self) -> Any:
        return SeekFromStartTransport(self.conf.broker_consumer, self)


# mode names a service's logger after its class's module; keep these two under
# faust's logger names (and the WARNING floor mlmesh.common.logging gives them)
SeekFromStartConsumer.logger = faust_aiokafka.Consumer.logger
CommittedReadsThread.logger = faust_aiokafka.AIOKafkaConsumerThread.logger
MonitorApp.logger = faust.App.logger
