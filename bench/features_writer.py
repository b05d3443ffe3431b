"""The live phase's feature writers of ``bench/features.py``: the real writer
loop in a process of its own per online store, recording each row's emit ->
online time."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from features.store import FeatureRow


class Hist:
    """Emit -> online per row, split at ``live_from`` (event time): windows
    ending before it belong to the backlog and close all at once when the live
    phase moves the watermark past them (a catch-up burst, reported apart)."""

    def __init__(self) -> None:
        # per live row: emit -> online seconds, the wall clock (epoch s) it went
        # online, its feature view (one append per row: a consistent snapshot)
        self.live: list[tuple[float, float, str]] = []
        self.catch_up: list[float] = []
        self.live_from = 0
        self.enabled = False

    def observe(self, row: FeatureRow, seconds: float) -> None:
        if not self.enabled:
            return
        if row.window_end_ms > self.live_from:
            self.live.append((seconds, time.time(), row.view))
        else:
            self.catch_up.append(seconds)


def writer_process(bootstrap: str, topic: str, state_dir: str, online: str, redis_url: str,
                   live_from: int, ready: Any, stop: Any, out: Any) -> None:
    """The real feature-writer loop with its own defaults, in a process of its
    own (as deployed), from the live end of ``topic``; puts each row's emit ->
    online seconds (live, with when and which view, and catch-up) on ``out``
    when ``stop`` is set."""
    from features.settings import Settings as WriterSettings
    from features.store import FeastStore
    from features.writer.app import BatchWriter
    from mlmesh.common.lifecycle import StopSignal
    from mlmesh.kafka.config import consumer_config, producer_config
    from mlmesh.kafka.producer import MeshProducer
    from mlmesh.kafka.sink import SinkLoop

    settings = WriterSettings()
    store = FeastStore(Path(state_dir), online=online, redis_url=redis_url,
                       window_end_cache=settings.window_end_cache)
    store.open()
    hist = Hist()
    hist.live_from, hist.enabled = live_from, True
    signal = StopSignal()
    loop = SinkLoop(consumer_config=consumer_config(bootstrap, f"bw-{uuid.uuid4().hex[:6]}",
                                                    "bench-writer", auto_offset_reset="latest"),
                    topics=[topic], handle_batch=BatchWriter(store, observe=hist.observe),
                    service="bench", stop=signal,
                    dlq_producer=MeshProducer(producer_config(bootstrap, "b")),
                    batch_size=settings.batch_size, poll_timeout=settings.poll_timeout_s,
                    on_rebalance=store.forget_window_ends)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    ready.set()
    stop.wait()
    signal.set()
    thread.join(30)
    out.put((online, list(hist.live), list(hist.catch_up)))
