"""One agent batch can hold the same offsets twice: faust seeks back (to the
committed offset, or to the first offset of a never-committed partition) while
earlier deliveries still sit in the agent's buffer. The second copy is a
replay, counted once; the watermark never moves backwards."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mlmesh.testing.monitor import MemoryTable
from monitor import synthetic as sy
from monitor.agents import process_batch
from monitor.idlog import IdLog
from monitor.metrics import records as rec
from monitor.state import BatchLog, Runtime

TOPIC = "t.predictions"
TS = 1_796_000_000.0  # seconds; every record in one 5 s window


def _monitor() -> Any:
    return SimpleNamespace(
        settings=SimpleNamespace(window_s=5.0, topic_prefix="t."),
        agg_table=MemoryTable(), runtime=Runtime(),
        seen=IdLog(MemoryTable(), "seen", 600.0),
        last_pred=BatchLog(MemoryTable(), "last", 3600.0, keep="last"))


def _events(offsets: list[int], part: int = 0) -> list[Any]:
    out = []
    for off in offsets:
        value = sy.prediction(f"r{part}-{off}", f"u{off % 7}", ts_ms=int(TS * 1000)).value
        msg = SimpleNamespace(topic=TOPIC, partition=part, offset=off, timestamp=TS)
        out.append(SimpleNamespace(message=msg, value=value))
    return out


def _count(mon: Any) -> int:
    live = rec.hydrate(next(iter(mon.agg_table.values())))
    return int(live["v"]["v1"]["n"])


def test_offsets_delivered_twice_in_one_batch_count_once() -> None:
    mon = _monitor()
    # 0..9 delivered, then a seek back re-delivers 0..14 into the same batch
    applied = process_batch(mon, "predictions", _events([*range(10), *range(15)]))
    assert applied == 15
    assert mon.runtime.processed["predictions"] == 15
    assert mon.runtime.replayed["predictions"] == 10
    assert _count(mon) == 15
    live = rec.hydrate(next(iter(mon.agg_table.values())))
    assert live["wm"] == 14


def test_a_later_batch_below_the_watermark_is_all_replay() -> None:
    mon = _monitor()
    process_batch(mon, "predictions", _events(list(range(15))))
    assert process_batch(mon, "predictions", _events(list(range(12)))) == 0
    assert mon.runtime.replayed["predictions"] == 12
    assert _count(mon) == 15
