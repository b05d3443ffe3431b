"""Bytewax child of bench/features_peers.py (run in .venv-peers).

One worker in one process (``bytewax.run.cli_main``), no recovery configured
(state in memory; Bytewax still snapshots, by deep copy, each user state touched
in an epoch, every 10 s by default). Bytewax's ``KafkaSource`` reads every
partition from the beginning (it assigns partitions and keeps offsets in its
own recovery, so the consumer group is only a name); a thin wrapper ends its
partitions once N records have been read between them, so the dataflow
finishes by itself. Records are decoded in a ``map``, keyed by user_id, and
one ``stateful_map`` per user keeps the seen event_ids and both tile maps
(1-minute and 1-hour), emitting the two updated aggregates per event, into an
in-memory last-value sink.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "gen" / "python", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import bytewax.operators as op  # noqa: E402
from bytewax.connectors.kafka import KafkaSource  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.inputs import StatefulSourcePartition  # noqa: E402
from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: E402
from bytewax.run import cli_main  # noqa: E402

from bench.features_peers import (  # noqa: E402
    HOUR_TILE_MS,
    ID,
    TILE_MS,
    TS,
    USER,
    Event,
    Meter,
    child_args,
    decoder,
    emit,
    hour_add,
    hour_new,
    minute_add,
    minute_new,
    versions,
)

# What the stateful step emits per event: None for a duplicate, else
# (minute tile, its aggregate, hour tile, its aggregate).
Update = tuple[int, tuple[float, ...], int, tuple[float, ...]] | None


class _Budget:
    def __init__(self, n: int) -> None:
        self.left = n


class _BudgetPartition(StatefulSourcePartition[Any, Any]):
    """A Kafka partition that ends once the shared budget is spent."""

    def __init__(self, inner: StatefulSourcePartition[Any, Any], budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget

    def next_batch(self) -> list[Any]:
        if self._budget.left <= 0:
            raise StopIteration()
        batch = list(self._inner.next_batch())
        if len(batch) > self._budget.left:
            batch = batch[:self._budget.left]
        self._budget.left -= len(batch)
        return batch

    def next_awake(self) -> datetime | None:
        return self._inner.next_awake()

    def snapshot(self) -> Any:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class BudgetKafkaSource(KafkaSource):
    """Bytewax's KafkaSource (tailing), stopped after ``n`` records in all."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._budget = _Budget(n)

    def build_part(  # type: ignore[override]  # wraps the parent's partition
            self, step_id: str, for_part: str, resume_state: int | None) -> _BudgetPartition:
        return _BudgetPartition(super().build_part(step_id, for_part, resume_state),
                                self._budget)


class _User:
    """One user's state: seen event_ids and the aggregates per tile start."""

    __slots__ = ("hour", "ids", "minute")

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.minute: dict[int, list[float]] = {}
        self.hour: dict[int, list[float]] = {}


def tiles_mapper(dedup: bool) -> Callable[[_User | None, Event], tuple[_User, Update]]:
    def mapper(state: _User | None, ev: Event) -> tuple[_User, Update]:
        if state is None:
            state = _User()
        if dedup:
            if ev[ID] in state.ids:
                return state, None
            state.ids.add(ev[ID])
        ts = ev[TS]
        mt, ht = ts - ts % TILE_MS, ts - ts % HOUR_TILE_MS
        m = state.minute.get(mt)
        m = state.minute[mt] = minute_new(ev) if m is None else minute_add(m, ev)
        h = state.hour.get(ht)
        h = state.hour[ht] = hour_new(ev) if h is None else hour_add(h, ev)
        return state, (mt, tuple(m), ht, tuple(h))

    return mapper


class _MeterPartition(StatelessSinkPartition[tuple[str, Update]]):
    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def write_batch(self, items: list[tuple[str, Update]]) -> None:
        meter = self._meter
        for user, upd in items:
            if upd is not None:
                meter.minute[(user, upd[0])] = upd[1]
                meter.hour[(user, upd[2])] = upd[3]
            meter.complete(upd is None)


class MeterSink(DynamicSink[tuple[str, Update]]):
    """Last value per (user, tile) in memory; counts records for the meter."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def build(self, step_id: str, worker_index: int,
              worker_count: int) -> _MeterPartition:
        return _MeterPartition(self._meter)


def build_flow(bootstrap: str, topic: str, n: int, group: str, dedup: bool,
               meter: Meter) -> Dataflow:
    decode = decoder()

    def take(msg: Any) -> Event:
        meter.take()
        return decode(msg.value)

    flow = Dataflow("features_peers")
    src = op.input("kafka", flow, BudgetKafkaSource(
        n, brokers=[bootstrap], topics=[topic], tail=True, add_config={"group.id": group}))
    events = op.map("decode", src, take)
    keyed = op.key_on("user", events, lambda ev: ev[USER])
    updates = op.stateful_map("tiles", keyed, tiles_mapper(dedup))
    op.output("sink", updates, MeterSink(meter))
    return flow


def main(argv: list[str] | None = None) -> int:
    args = child_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    meter = Meter(args.events)
    cli_main(build_flow(args.bootstrap, args.topic, args.events, args.group, args.dedup, meter),
             workers_per_process=1)
    emit(meter.result(
        state="memory", dedup=args.dedup,
        versions=versions("bytewax", "confluent-kafka", "protobuf"),
        notes="1 process, 1 worker; no recovery configured (state in memory; Bytewax still "
              "deep-copies each touched user's state at every epoch end, 10 s); "
              "KafkaSource from the beginning (assigns partitions, ignores groups), ended "
              "after N records by a budget wrapper; dedup: event_id set per user in the "
              "stateful_map; one stateful_map per user keeps the 1 min and 1 h tiles "
              "(never evicted) and emits both per event; outputs kept as last value per "
              "(user, tile) in memory, not produced to Kafka"))
    return 0 if meter.done else 1


if __name__ == "__main__":
    sys.exit(main())
