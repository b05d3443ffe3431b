"""Quix Streams child of bench/features_peers.py (run in .venv-peers).

One ``Application`` (at-least-once, RocksDB state with its changelog topic, a
fresh consumer group from the earliest offsets). Records are decoded by a
topic deserializer, timed by their payload's event time, deduplicated by a
stateful filter (state key: event_id, under the user_id message key), then two
branches: ``tumbling_window(1 min)`` and ``tumbling_window(1 h)``, each
``.reduce(...).current()`` with 25 h of grace, into an in-memory last-value
sink. The app stops itself (``Application.stop``) once N records are through.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "gen" / "python", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from quixstreams import Application  # noqa: E402
from quixstreams.models.serializers import Deserializer  # noqa: E402
from quixstreams.state import State  # noqa: E402

from bench.features_peers import (  # noqa: E402
    HOUR_TILE_MS,
    ID,
    RETENTION_MS,
    TILE_MS,
    TS,
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


class EventDeserializer(Deserializer):
    """Topic values: UserEvent protobuf bytes to an :data:`Event` tuple."""

    def __init__(self) -> None:
        super().__init__()
        self._decode = decoder()

    def __call__(self, value: bytes, ctx: Any) -> Event:
        return self._decode(value)


def _event_time(value: Event, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    return value[TS]


def run(bootstrap: str, topic_name: str, n: int, group: str, dedup: bool,
        state_dir: str) -> Meter:
    meter = Meter(n)
    app = Application(broker_address=bootstrap, consumer_group=group,
                      auto_offset_reset="earliest", state_dir=state_dir,
                      loglevel="WARNING")

    def finish(duplicate: bool) -> None:
        if meter.complete(duplicate):
            app.stop()

    def first_seen(ev: Event, state: State) -> bool:
        if state.exists(ev[ID]):
            finish(True)
            return False
        state.set(ev[ID], 1)
        return True

    def minute_sink(win: dict[str, Any], key: str, timestamp: int, headers: Any) -> None:
        meter.minute[(key, win["start"])] = win["value"]

    def hour_sink(win: dict[str, Any], key: str, timestamp: int, headers: Any) -> None:
        meter.hour[(key, win["start"])] = win["value"]
        finish(False)

    topic = app.topic(topic_name, value_deserializer=EventDeserializer(),
                      key_deserializer="str", timestamp_extractor=_event_time)
    sdf = app.dataframe(topic)
    sdf = sdf.filter(lambda ev: meter.take())
    if dedup:
        sdf = sdf.filter(first_seen, stateful=True)
    minute = (sdf.tumbling_window(TILE_MS, grace_ms=RETENTION_MS, name="tile_1m")
              .reduce(reducer=minute_add, initializer=minute_new).current())
    minute.update(minute_sink, metadata=True)
    hour = (sdf.tumbling_window(HOUR_TILE_MS, grace_ms=RETENTION_MS, name="tile_1h")
            .reduce(reducer=hour_add, initializer=hour_new).current())
    hour.update(hour_sink, metadata=True)
    app.run()
    return meter


def main(argv: list[str] | None = None) -> int:
    args = child_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="mlmesh-peers-quix-") as state_dir:
        meter = run(args.bootstrap, args.topic, args.events, args.group, args.dedup, state_dir)
    emit(meter.result(
        state="rocksdb", dedup=args.dedup,
        versions=versions("quixstreams", "confluent-kafka", "protobuf", "rocksdict"),
        notes="1 process; at-least-once; RocksDB state + changelog topic; dedup: stateful "
              "filter keyed by user_id/event_id; tumbling_window(60 s) and (1 h) branches, "
              "reduce().current(), grace 25 h; outputs kept as last value per (user, tile) "
              "in memory, not produced to Kafka"))
    return 0 if meter.done else 1


if __name__ == "__main__":
    sys.exit(main())
