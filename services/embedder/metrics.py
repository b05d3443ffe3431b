"""The embedder's OpenTelemetry instruments (exported on /metrics)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

BATCH_BUCKETS = (1, 2, 4, 8, 16, 24, 31, 32, 48, 64)
LATENCY_BUCKETS_MS = (25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 5000, 10000, 30000)


class RateWindow:
    """Events per second over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._events: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, n: int, now: float | None = None) -> None:
        with self._lock:
            self._events.append((now if now is not None else time.monotonic(), n))

    def rate(self, now: float | None = None) -> float:
        now = now if now is not None else time.monotonic()
        with self._lock:
            while self._events and self._events[0][0] < now - self.window_s:
                self._events.popleft()
            return sum(n for _, n in self._events) / self.window_s


class EmbedderMetrics:
    def __init__(self, meter: Meter) -> None:
        self.batch_size = meter.create_histogram(
            "embedder.triton.batch_size", unit="{chunk}",
            description="chunks per Triton call",
            explicit_bucket_boundaries_advisory=BATCH_BUCKETS)
        self.model_ms = meter.create_histogram(
            "embedder.triton.call_duration", unit="ms", description="Triton call latency",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_MS)
        self.searchable_ms = meter.create_histogram(
            "embedder.doc_to_searchable", unit="ms",
            description="document created_at -> its chunks upserted (searchable)",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_MS)
        self.documents = meter.create_counter(
            "embedder.documents", unit="{document}", description="documents embedded")
        self.chunks = meter.create_counter(
            "embedder.chunks", unit="{chunk}", description="chunks embedded and upserted")
        self.stale_deleted = meter.create_counter(
            "embedder.chunks_deleted", unit="{chunk}",
            description="stale chunks of re-sent documents deleted")
        self.redactions = meter.create_counter(
            "embedder.redactions", unit="{match}", description="PII matches redacted")
        self.dead_letters = meter.create_counter(
            "embedder.dead_letters", unit="{record}", description="records sent to the DLQ")
        self.retries = meter.create_counter(
            "embedder.retries", unit="{attempt}",
            description="batch attempts failed (Triton/Milvus/Kafka down), retried")
        self.rate = RateWindow()
        meter.create_observable_gauge(
            "embedder.docs_per_second", callbacks=[self._observe_rate], unit="{document}/s",
            description="documents embedded per second (10 s window)")

    def _observe_rate(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.rate.rate())]

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.record(size)
        self.model_ms.record(seconds * 1e3)
