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

Commits over offset gaps (:func:`committable`): a topic written in
transactions has a marker after every transaction (and aborted records a
``read_committed`` consumer never sees), so the offsets the consumer reads
skip. faust records each skip in an interval tree so that its commit can pass
over it, but a skip that starts right at the committed position is never
recorded (faust-streaming #606, open), and the commit then advances only when
the following records happen to close the hole: on the features job's
``feature_updates`` (two producers' markers side by side) the monitor's
committed offsets crept at ~0.5 records/s per partition, tens of thousands
behind a monitor that had processed everything, and a restart replayed all
of that. faust also rebuilt the whole tree after each skip (``merge_overlaps``,
70% of the busy time on a topic with a marker every 5 records). Here no tree is
kept: a partition commits up to its lowest message delivered to a stream and
not yet acknowledged, or past its highest acknowledged one when none is
pending. faust delivers a partition's records in offset order, so every offset
below that point was either acknowledged or never delivered (a marker, an
aborted record).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)


def never_committed(committed: Mapping[Any, int | None], app_id: str) -> list[Any]:
    """Source partitions (not faust's ``<app id>-...`` topics) without a
    committed position (None, or 0, which aiokafka does not seek to either)."""
    internal = f"{app_id}-"
    return sorted((tp for tp, offset in committed.items()
                   if not offset and not tp.topic.startswith(internal)),
                  key=lambda tp: (tp.topic, tp.partition))


def committable(acked: list[int], pending: Iterable[int], committed: int | None
                ) -> int | None:
    """The offset to commit for one partition (the next one to read), or None.

    ``acked``: the partition's acknowledged offsets (faust's list; those below
    the result are removed from it); ``pending``: offsets delivered to a
    stream and not acknowledged; ``committed``: the partition's committed
    offset. Offsets neither acked nor pending below the highest acked one were
    never delivered: transaction markers, aborted or compacted records."""
    if not acked:
        return None
    top = max(acked) + 1
    lowest_pending = min(pending, default=None)
    if lowest_pending is not None:
        top = min(top, lowest_pending)
    acked[:] = [o for o in acked if o >= top]
    if committed is not None and top <= committed:
        return None
    return top


def lowest_pending(messages: Iterable[Any]) -> dict[TP, int]:
    """Per partition, the lowest offset delivered to a stream and not acknowledged."""
    lowest: dict[TP, int] = {}
    for m in list(messages):
        if not m.acked and (m.tp not in lowest or m.offset < lowest[m.tp]):
            lowest[m.tp] = m.offset
    return lowest


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

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        # faust's loop asks _new_offset partition by partition; here one pass
        # over the delivered-unacknowledged messages serves every partition
        lowest = lowest_pending(self._unacked_messages)
        out: dict[TP, int] = {}
        for tp in tps:
            offset = self._offset_for(tp, lowest.get(tp))
            if offset is not None and self._should_commit(tp, offset):
                out[tp] = offset
        return out

    def _new_offset(self, tp: TP) -> int | None:
        return self._offset_for(tp, lowest_pending(self._unacked_messages).get(tp))

    def _offset_for(self, tp: TP, pending: int | None) -> int | None:
        # replaces faust's gap-tree commit (module doc)
        acked = self._acked[tp]
        before = set(acked)
        offset = committable(acked, [] if pending is None else [pending],
                             self._committed_offset[tp])
        self._acked_index[tp].difference_update(before.difference(acked))
        return offset

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """No gap tree: :meth:`_new_offset` passes over undelivered offsets."""


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
