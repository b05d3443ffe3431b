"""Response caches with hit-rate metrics.

* :class:`ExactCache`: LRU + TTL, keyed by the full request plus the model
  version and the feature version (the feature event timestamps), so a fresh
  feature or a new model version is never answered from the cache.
* :class:`SemanticCache`: per user, a Search whose query embedding is within
  ``cosine >= threshold`` of a cached one (same k and filters) is answered from
  the cache; bounded LRU + TTL.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ExactCache(Generic[V]):
    def __init__(self, max_entries: int, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 on_lookup: Callable[[bool], None] | None = None) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.clock = clock
        self.on_lookup = on_lookup
        self.stats = CacheStats()
        self._data: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.ttl_s > 0

    def get(self, key: Hashable) -> V | None:
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            item = self._data.get(key)
            if item is not None and item[0] > now:
                self._data.move_to_end(key)
                self.stats.hits += 1
                hit: V | None = item[1]
            else:
                if item is not None:
                    del self._data[key]
                self.stats.misses += 1
                hit = None
        if self.on_lookup is not None:
            self.on_lookup(hit is not None)
        return hit

    def put(self, key: Hashable, value: V) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._data[key] = (self.clock() + self.ttl_s, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class _Entry(Generic[V]):
    vector: np.ndarray
    expires: float
    value: V


class SemanticCache(Generic[V]):
    """Entries are grouped by ``scope`` (user, k, filters, model version): a hit
    never crosses users or filters."""

    def __init__(self, max_entries: int, ttl_s: float, threshold: float,
                 per_scope: int = 32, clock: Callable[[], float] = time.monotonic,
                 on_lookup: Callable[[bool], None] | None = None) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.threshold = threshold
        self.per_scope = per_scope
        self.clock = clock
        self.on_lookup = on_lookup
        self.stats = CacheStats()
        self._scopes: OrderedDict[Hashable, list[_Entry[V]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.ttl_s > 0

    def get(self, scope: Hashable, vector: np.ndarray) -> tuple[V, float] | None:
        """(value, cosine) of the most similar live entry at or above the threshold."""
        if not self.enabled:
            return None
        now = self.clock()
        best: tuple[V, float] | None = None
        with self._lock:
            entries = self._scopes.get(scope)
            if entries:
                live = [e for e in entries if e.expires > now]
                self._size -= len(entries) - len(live)
                if live:
                    self._scopes[scope] = live
                    self._scopes.move_to_end(scope)
                    sims = np.stack([e.vector for e in live]) @ _unit(vector)
                    i = int(np.argmax(sims))
                    if float(sims[i]) >= self.threshold:
                        best = (live[i].value, float(sims[i]))
                else:
                    del self._scopes[scope]
            if best is not None:
                self.stats.hits += 1
            else:
                self.stats.misses += 1
        if self.on_lookup is not None:
            self.on_lookup(best is not None)
        return best

    def put(self, scope: Hashable, vector: np.ndarray, value: V) -> None:
        if not self.enabled:
            return
        with self._lock:
            entries = self._scopes.setdefault(scope, [])
            entries.append(_Entry(_unit(vector), self.clock() + self.ttl_s, value))
            self._size += 1
            if len(entries) > self.per_scope:
                entries.pop(0)
                self._size -= 1
            self._scopes.move_to_end(scope)
            while self._size > self.max_entries and self._scopes:
                _, dropped = self._scopes.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return self._size


def _unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
