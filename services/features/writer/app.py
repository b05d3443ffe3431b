"""Feature writer wiring: SinkLoop (at-least-once, offsets committed after the
Feast write) + FeastStore (idempotent, newest window wins)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Message

from features.catalog import VIEWS
from features.settings import Settings
from features.store import FeastStore, FeatureRow
from features.tile_store import TileStore
from features.tiles import DELTA_VIEW, MAX_TS, MIN_TS, Delta
from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.logging import configure_logging
from mlmesh.common.retry import RetriesExhausted
from mlmesh.events.v1 import feature_update_pb2
from mlmesh.kafka.config import consumer_config, producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.serde import SerdeError, decode
from mlmesh.kafka.sink import Rejected, SinkLoop

log = logging.getLogger(__name__)


def to_row(msg: feature_update_pb2.FeatureUpdate) -> FeatureRow:
    if msg.feature_view not in VIEWS:
        raise SerdeError("validation", f"feature_view: unknown view {msg.feature_view!r}")
    if not msg.user_id:
        raise SerdeError("validation", "user_id: required")
    return FeatureRow(msg.user_id, msg.feature_view, msg.window_start.ToMilliseconds(),
                      msg.window_end.ToMilliseconds(), dict(msg.values),
                      msg.emitted_at.ToMilliseconds())


def to_delta(msg: feature_update_pb2.FeatureUpdate, partition: int, offset: int) -> Delta:
    if not msg.user_id:
        raise SerdeError("validation", "user_id: required")
    values = dict(msg.values)
    if MIN_TS not in values or MAX_TS not in values:
        raise SerdeError("validation", "tile delta without min_ts/max_ts")
    return Delta(msg.user_id, msg.window_start.ToMilliseconds(), values, round(values[MIN_TS]),
                 round(values[MAX_TS]), partition, offset, msg.emitted_at.ToMilliseconds())


class BatchWriter:
    """``handle_batch`` of the SinkLoop: tile deltas to the ``TileStore``,
    window results (``--mode windows``) to the window views."""

    def __init__(self, store: FeastStore, latency: Any = None, written: Any = None,
                 observe: Callable[[FeatureRow, float], None] | None = None,
                 tiles: TileStore | None = None,
                 on_tiles: Callable[[list[Delta], float], None] | None = None) -> None:
        """``latency``/``written``: OpenTelemetry instruments; ``observe(row,
        seconds)``: each row's emit -> visible online time, for a caller that
        needs it per row (the benchmark splits live windows from catch-up);
        ``on_tiles(deltas, visible_ms)``: the deltas of a batch and when they
        became visible online (epoch ms)."""
        self.store = store
        self.latency = latency
        self.written = written
        self.observe = observe
        self.tiles = tiles
        self.on_tiles = on_tiles

    def __call__(self, batch: list[Message]) -> list[Rejected]:
        rows: list[FeatureRow] = []
        deltas: list[Delta] = []
        rejected: list[Rejected] = []
        for m in batch:
            try:
                msg = decode(feature_update_pb2.FeatureUpdate, m.value())
                if msg.feature_view == DELTA_VIEW and self.tiles is not None:
                    deltas.append(to_delta(msg, m.partition() or 0, m.offset() or 0))
                else:
                    rows.append(to_row(msg))
            except SerdeError as exc:
                rejected.append(Rejected(m, exc.error_class, exc.reason))
        if deltas and self.tiles is not None:
            stats = self.tiles.write(deltas)
            now = stats.visible_ms  # online: what serving waits for (offline follows)
            if self.on_tiles is not None:
                self.on_tiles(deltas, now)
            if self.latency is not None:
                for d in deltas:
                    self.latency.record(max(0.0, (now - d.emitted_ms) / 1000))
            if self.written is not None:
                self.written.add(stats.users)
        if rows:
            n = self.store.write_online(rows)
            now = time.time() * 1000  # visible online: what serving waits for
            if self.latency is not None or self.observe is not None:
                for r in rows:
                    seconds = max(0.0, (now - r.emitted_ms) / 1000)
                    if self.latency is not None:
                        self.latency.record(seconds)
                    if self.observe is not None:
                        self.observe(r, seconds)
            if self.written is not None:
                self.written.add(n)
            self.store.write_offline(rows)  # before the offsets are committed
        return rejected


def main(settings: Settings) -> int:
    configure_logging("feature-writer", settings.log_level, settings.log_json)
    stop = StopSignal().install()
    store = FeastStore(settings.state_dir, settings.feast_online, settings.redis_url,
                       settings.offline_dir, settings.window_end_cache)
    tiles = TileStore(store, settings.session_gap_s * 1000, settings.window_end_cache)
    t0 = time.monotonic()
    store.open()  # import feast + apply the registry (seconds), before we report ready
    log.info("feast ready", extra={"seconds": round(time.monotonic() - t0, 2),
                                   "online": settings.feast_online})
    from mlmesh.common.telemetry import init_telemetry

    tel = init_telemetry("feature-writer", settings.metrics_port)
    latency = tel.meter.create_histogram(
        "features_emit_to_online_seconds", unit="s",
        description="job emitted a window result -> written to the online store")
    written = tel.meter.create_counter("features_online_rows_written")
    event_to_online = tel.meter.create_histogram(
        "features_event_to_online_seconds", unit="s",
        description="a tile delta's oldest event time -> its tiles visible online (live "
                    "events: event -> served; a backlog or late data reads older)")

    def on_tiles(deltas: list[Delta], visible_ms: float) -> None:
        for d in deltas:
            event_to_online.record(max(0.0, (visible_ms - d.min_ts) / 1000))

    # (tiles: one row per user touched by a batch)
    extra = settings.kafka_extra()
    loop = SinkLoop(
        consumer_config=consumer_config(settings.kafka_bootstrap, settings.group_id,
                                        "feature-writer", extra=extra),
        topics=[settings.input_topic],
        handle_batch=BatchWriter(store, latency, written, tiles=tiles, on_tiles=on_tiles),
        service="feature-writer", stop=stop,
        dlq_producer=MeshProducer(producer_config(settings.kafka_bootstrap,
                                                  "feature-writer-dlq", extra=extra)),
        batch_size=settings.batch_size, poll_timeout=settings.poll_timeout_s,
        # the stores answer: a batch that still fails holds a record they refuse,
        # which the loop isolates and dead-letters
        probe=store.ping,
        on_rebalance=lambda: (store.forget_window_ends(), tiles.forget()))  # another writer
    # may have written them
    compactor = None
    if settings.compact_interval_s > 0:
        from features.compact import run_every

        compactor = threading.Thread(
            target=run_every, name="offline-compactor", daemon=True,
            args=(store.offline_dir, settings.compact_interval_s, stop),
            kwargs={"min_files": settings.compact_min_files,
                    "target_bytes": settings.compact_target_mb * 1024 * 1024})
        compactor.start()
    try:
        stats = loop.run()
    except RetriesExhausted as exc:  # the store away too long: exit to be restarted
        log.error("feature writer gave up on a batch (nothing committed)",
                  extra={"error": str(exc)})
        return 3
    finally:
        if compactor is not None:
            stop.set()  # also when the loop ended on its own (a fatal Kafka error)
            compactor.join(60)  # a pass in progress finishes its file (no half state)
    log.info("feature writer stopped", extra={"consumed": stats.consumed,
                                              "dead_lettered": stats.dead_lettered})
    return 0
