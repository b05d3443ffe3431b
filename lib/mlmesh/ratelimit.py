"""Rate limits per key and per user, shared by ingest and inference.

Two stores, one interface (``take``, ``grant``, ``enabled``):

* ``memory://`` (the default): a token bucket per key in this process
  (:class:`KeyedLimiter`): ``rate`` tokens per second, at most ``burst``
  banked; thread-safe, memory bounded (least recently used buckets are
  evicted, which only ever makes a limit more lenient). A fleet's real limit is
  replicas x workers x rate.
* ``redis://host:port/db``: counters in Redis, shared by every replica and
  worker, on the ``limits`` library (:class:`SharedLimiter`): a sliding-window
  counter of ``amount`` hits per ``window`` seconds, window = max(1,
  round(burst / rate)), amount = max(1, round(rate x window)). One Redis round
  trip per key per call (ingest asks once per user per batch). When Redis does
  not answer, requests are allowed and a warning is logged once a minute: a
  limiter outage does not become a serving outage.

:func:`open_limiter` picks one from a storage URL.
"""


from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItemPerSecond, storage, strategies

log = logging.getLogger(__name__)


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

    def _bucket(self, key: str, now: float) -> TokenBucket:
        """``key``'s bucket, the most recently used (call with the lock held)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str, cost: float = 1.0) -> Decision:
        if not self.enabled:
            return Decision(True, 0.0, float("inf"))
        now = self.clock()
        with self._lock:
            return self._bucket(key, now).take(cost, now)

    def grant(self, key: str, wanted: int) -> tuple[int, float]:
        """Up to ``wanted`` tokens for ``key`` at once: (granted, seconds until more)."""
        if not self.enabled or wanted <= 0:
            return wanted, 0.0
        now = self.clock()
        with self._lock:
            bucket = self._bucket(key, now)
            full = bucket.take(wanted, now)
            if full.allowed:
                return wanted, 0.0
            part = int(bucket.tokens)
            if part > 0:
                bucket.take(part, now)
            return part, full.retry_after_s


class SharedLimiter:
    """One counter per key in a shared store. ``rate <= 0`` disables."""

    def __init__(self, rate: float, burst: float, storage_uri: str,
                 namespace: str = "mlmesh") -> None:
        self.rate = rate
        self.storage_uri = storage_uri
        self.namespace = namespace
        window = max(1, round(max(burst, 1.0) / rate)) if rate > 0 else 1
        self.item = RateLimitItemPerSecond(max(1, round(rate * window)), window)
        self._limiter = strategies.SlidingWindowCounterRateLimiter(
            storage.storage_from_string(storage_uri)) if rate > 0 else None
        self._warned = 0.0

    @property
    def enabled(self) -> bool:
        return self._limiter is not None

    @property
    def shared(self) -> bool:
        return not self.storage_uri.startswith("memory://")

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned > 60:
            self._warned = now
            log.warning("rate-limit storage unavailable; allowing requests",
                        extra={"storage": self.storage_uri.split("@")[-1], "error": repr(exc)})

    def _retry_after(self, key: str) -> float:
        assert self._limiter is not None
        stats = self._limiter.get_window_stats(self.item, self.namespace, key)
        return max(0.001, stats.reset_time - time.time())

    def take(self, key: str, cost: int = 1) -> Decision:
        granted, retry_after = self.grant(key, cost)
        return Decision(granted == cost, retry_after, 0.0)

    def grant(self, key: str, wanted: int) -> tuple[int, float]:
        """Up to ``wanted`` hits for ``key`` at once: (granted, seconds until more)."""
        if self._limiter is None or wanted <= 0:
            return wanted, 0.0
        try:
            if self._limiter.hit(self.item, self.namespace, key, cost=wanted):
                return wanted, 0.0
            left = self._limiter.get_window_stats(self.item, self.namespace, key).remaining
            granted = 0
            if 0 < left < wanted and self._limiter.hit(self.item, self.namespace, key,
                                                       cost=left):
                granted = left
            return granted, self._retry_after(key)
        except Exception as exc:  # the storage is away: allow, see the module doc
            self._unavailable(exc)
            return wanted, 0.0


class Limiter(Protocol):
    @property
    def enabled(self) -> bool: ...
    def take(self, key: str, cost: int = 1) -> Decision: ...
    def grant(self, key: str, wanted: int) -> tuple[int, float]: ...


def open_limiter(rate: float, burst: float, storage_uri: str = "memory://",
                 namespace: str = "mlmesh") -> Limiter:
    """The per-process bucket for ``memory://``, the shared counter otherwise."""
    if storage_uri.startswith("memory://"):
        return KeyedLimiter(rate, burst)
    return SharedLimiter(rate, burst, storage_uri, namespace)
