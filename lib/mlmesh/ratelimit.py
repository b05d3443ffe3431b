"""Token-bucket rate limiting (per key, per user), shared by ingest and inference.

Thread-safe; memory is bounded (least recently used buckets are evicted, which
only ever makes a limit more lenient, never stricter).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Decision:
    allowed: bool
    # Seconds until the request would be allowed (0 when allowed).
    retry_after_s: float
    remaining: float


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, cost: float, now: float) -> Decision:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost <= self.tokens:
            self.tokens -= cost
            return Decision(True, 0.0, self.tokens)
        if self.rate <= 0:
            return Decision(False, float("inf"), self.tokens)
        missing = cost - self.tokens
        return Decision(False, missing / self.rate, self.tokens)


class KeyedLimiter:
    """One bucket per key (user id, API key hash...). ``rate <= 0`` disables."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str, cost: float = 1.0) -> Decision:
        if not self.enabled:
            return Decision(True, 0.0, float("inf"))
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, now)
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket.take(cost, now)
